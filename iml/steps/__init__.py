"""The workflow's steps, one module per stage: paths and settings in, files out. The scripts in
workflow_scripts/ only unpack the `snakemake` object and call these (or a dataset's own steps in
iml.data), so every step runs and is tested without Snakemake (tests/test_steps.py).

    logs       the rule's log file
    train      training a model, fitting a base on its codes
    evaluate   samples, KDE, exact likelihood; generated audio and its scores
    figures    the figure experiments (Figs. 1, 2, 4-8)
    aggregate  tables and Fig. 3 over every run
"""
