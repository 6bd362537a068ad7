"""The process and the machine it runs on: `environment` (what TensorFlow, torch and Hugging Face
read when first imported, set before they are), `timing` (milliseconds per call, the machine in
words: what the review report and the benchmarks measure with). Imports nothing of the project."""
