"""Beam jobs, one package per job, in the order of the flow:

- `pipelines.clean`: raw crawl -> documents dataset (readers, extraction, filters, dedup)
- `pipelines.tokenizer`: documents -> tokenizer folder
- `pipelines.build`: documents -> shard set of training examples (sentences, objectives)

Each job's `job.py` exposes `main(argv)` and only wires transforms; the pure logic it uses
lives in modules beside it that run without Beam. `options` (job flags and Beam options),
`documents_io` (writing and listing a documents dataset) and `docs_input` (reading one) are
shared by the jobs.
"""
