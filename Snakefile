# crystalbench: structures -> symmetry -> graphs -> training -> study tables and figures.
# Paper configuration by default; the offline demo with --configfile config/demo.yaml.
from snakemake.utils import min_version

min_version("8.20")


# the paper's config unless --configfile names another (--config values apply on top)
if not workflow.configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/symmetry.smk"
include: "workflow/rules/graphs.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/forces.smk"


report: "workflow/report/workflow.rst"


# run on the submitting node, not as cluster jobs: the cheap bookkeeping steps, and the
# MatBench download, which needs the network that compute nodes often lack (the optional
# publish and force rules name theirs where they are defined)
localrules:
    all,
    matbench_fetch,
    splits,
    aggregate,
    graph_stats,
    matbench_table,
    matbench_submission,


rule all:
    default_target: True
    input:
        study_outputs(),
        graph_stats_outputs(),
        matbench_outputs(),
        force_study_outputs(),
