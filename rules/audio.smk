# The audio chain (Sec. 4.2): every audio rule (the functions naming its files are in common.smk).


localrules:
    download_fsdd,
    download_violin,


rule download_fsdd:
    output:
        f"{DL}/fsdd/recordings.md5",
    log:
        f"{LOGS}/download_fsdd/fsdd.log",
    benchmark:
        f"{BENCH}/download_fsdd/fsdd.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("download", "mem_mb"),
        runtime=res("download", "runtime"),
    script:
        "../workflow_scripts/download_fsdd.py"


rule download_violin:
    input:
        violin_local_source,
    output:
        violin_file(),
    log:
        f"{LOGS}/download_violin/violin.log",
    benchmark:
        f"{BENCH}/download_violin/violin.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("download", "mem_mb"),
        runtime=res("download", "runtime"),
    script:
        "../workflow_scripts/download_violin.py"


rule preprocess_audio:
    input:
        audio_raw_input,
    output:
        splits=f"{R}/data/{{dataset}}/splits.npz",
        info=f"{R}/data/{{dataset}}/splits.json",
    log:
        f"{LOGS}/preprocess_audio/{{dataset}}.log",
    benchmark:
        f"{BENCH}/preprocess_audio/{{dataset}}.tsv"
    wildcard_constraints:
        dataset="|".join(config["audio"]["datasets"]),
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("preprocess", "mem_mb"),
        runtime=res("preprocess", "runtime"),
    params:
        settings=lambda w: config["audio"]["datasets"][w.dataset],
        chunk=config["audio"]["chunk"],
    script:
        "../workflow_scripts/preprocess_audio.py"


rule generate_audio:
    input:
        model=model_file,
        base=f"{RUN}/base.npz",
    output:
        wav=report(
            f"{RUN}/generated.wav",
            caption="../report/generated_audio.rst",
            category="Audio",
        ),
        codes=f"{RUN}/generated_codes.npz",
    log:
        f"{LOGS}/generate_audio/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/generate_audio/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        seconds=config["audio"]["seconds"],
        hop=config["audio"]["chunk"]["hop"],
    script:
        "../workflow_scripts/generate_audio.py"


rule audio_scores:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
        base=f"{RUN}/base.npz",
    output:
        f"{RUN}/audio_scores.json",
    log:
        f"{LOGS}/audio_scores/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/audio_scores/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        hop=config["audio"]["chunk"]["hop"],
        run=run_settings,
    script:
        "../workflow_scripts/audio_scores.py"


rule train_speech_classifier:
    input:
        f"{DL}/fsdd/recordings.md5",
    output:
        model=f"{R}/metrics/speech_classifier.pt",
        summary=f"{R}/metrics/speech_classifier.json",
    log:
        f"{LOGS}/train_speech_classifier/speech_classifier.log",
    benchmark:
        f"{BENCH}/train_speech_classifier/speech_classifier.tsv"
    conda:
        "../envs/iml.yaml"
    # small convolutions: on a shared CPU a second thread cost 6x the CPU time per epoch
    threads: 1
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu", 0),
    params:
        settings=config["audio"]["speech"]["classifier"],
    script:
        "../workflow_scripts/train_speech_classifier.py"


rule speech_scores:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
        wav=f"{RUN}/generated.wav",
        classifier=f"{R}/metrics/speech_classifier.pt",
        classifier_summary=f"{R}/metrics/speech_classifier.json",
    output:
        f"{RUN}/speech_scores.json",
    log:
        f"{LOGS}/speech_scores/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/speech_scores/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        digits=lambda w: config["audio"]["datasets"][w.dataset]["digits"],
        hop=config["audio"]["chunk"]["hop"],
        vad=config["audio"]["speech"]["vad"],
        run=run_settings,
    script:
        "../workflow_scripts/speech_scores.py"


rule audio_figures:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=lambda w: f"{audio_run(w.dataset)}/model.pt",
        wav=lambda w: f"{audio_run(w.dataset)}/generated.wav",
    output:
        spectrogram_png=report(
            f"{R}/figures/{{dataset}}_spectrogram.png",
            caption="../report/spectrogram.rst",
            category="Audio",
        ),
        spectrogram_pdf=f"{R}/figures/{{dataset}}_spectrogram.pdf",
        reconstruction_png=report(
            f"{R}/figures/{{dataset}}_reconstruction.png",
            caption="../report/reconstruction.rst",
            category="Audio",
        ),
        reconstruction_pdf=f"{R}/figures/{{dataset}}_reconstruction.pdf",
    log:
        f"{LOGS}/audio_figures/{{dataset}}.log",
    benchmark:
        f"{BENCH}/audio_figures/{{dataset}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        seconds=config["audio"]["figure_seconds"],
        hop=config["audio"]["chunk"]["hop"],
    script:
        "../workflow_scripts/audio_figures.py"


rule audio_table:
    input:
        scores=[f"{run}/audio_scores.json" for run in audio_table_runs()],
        bases=[f"{run}/base.json" for run in audio_table_runs()],
        info=[f"{R}/data/{d}/splits.json" for d in audio_datasets()],
        speech=[
            f"{run}/speech_scores.json"
            for d in speech_datasets()
            for run in audio_runs(d)
        ],
    output:
        csv=report(
            f"{R}/tables/{layout.audio_table_names()[0]}",
            caption="../report/audio_table.rst",
            category="Tables",
        ),
        md=f"{R}/tables/{layout.audio_table_names()[1]}",
        tex=f"{R}/tables/{layout.audio_table_names()[2]}",
    log:
        f"{LOGS}/audio_table/audio.log",
    benchmark:
        f"{BENCH}/audio_table/audio.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        runs=audio_table_runs(),
        datasets=audio_datasets(),
    script:
        "../workflow_scripts/audio_table.py"
