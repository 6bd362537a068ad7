"""The process and the machine it runs on: `timing` (milliseconds per call, the machine in
words), what the review report and the benchmarks measure with. Imports nothing of the project."""
