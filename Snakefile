from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/audio.smk"
include: "rules/train.smk"
include: "rules/base.smk"
include: "rules/evaluate.smk"
include: "rules/figures.smk"
include: "rules/aggregate.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
