"""The stages: one typed `Stage` object per module (`STAGE`), listed in `ovtool.stages.registry`.

See `ovtool.stages.base.Stage` for the contract: a stage receives its own section and a StageContext
whose typed `input` the runner wired; it returns a StageResult (`ovtool.results`).
"""
