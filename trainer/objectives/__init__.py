"""Objectives: one file each (what a batch needs, how it is masked, one step's loss with named parts).

- `mlm`: masked LM (`mlm.OBJECTIVE`, `mlm.MaskedLMTask`)
- `pair`: masked LM plus NSP (`pair.NSP`) or SOP (`pair.SOP`), `pair.PairTask`

`base` holds the shared `Objective` record, the `Task` module and `StepOutput`.
"""
