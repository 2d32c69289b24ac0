
from iml.steps import logs, speech

logs.log_to_file(snakemake.log[0], snakemake.threads)
speech.speech_scores(
    snakemake.input.data,
    snakemake.input.model,
    snakemake.input.wav,
    snakemake.input.classifier,
    snakemake.input.classifier_summary,
    digits=snakemake.params.digits,
    hop=snakemake.params.hop,
    vad=snakemake.params.vad,
    seed=int(snakemake.wildcards.seed),
    device=snakemake.config["device"],
    out_path=snakemake.output[0],
    run_settings=snakemake.params.run,
)
