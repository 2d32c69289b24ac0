from iml.steps import logs, speech

logs.log_to_file(snakemake.log[0], snakemake.threads)
speech.train_speech_classifier(
    snakemake.input[0],
    settings=snakemake.params.settings,
    device=snakemake.config["device"],  # where to train is not a result parameter
    model_path=snakemake.output.model,
    summary_path=snakemake.output.summary,
)
