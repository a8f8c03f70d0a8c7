# partbased: part-based representations (NMF, sparse AEs) compared on the same metrics.
# An index only: the logic lives in rules/common.smk and the partbased package.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),
