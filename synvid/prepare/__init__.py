"""Real datasets and weight files in one command (data_gen/0_prepare_data.py, docs/data.md): `sources` (the table of
official URLs, published hashes and counts), `plan` and `download` (fetch), `unpack`, `verify` with `containers`,
`register` (data/paths.env for run_all.sh) and `pipeline`, which runs them in that order."""
