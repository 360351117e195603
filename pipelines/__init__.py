"""Beam jobs (one module per job, `main(argv)` only wires transforms) and the pure
text logic they use, in modules beside them that run without Beam."""
