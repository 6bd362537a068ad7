"""TFX components of the distillation pipeline. Each wraps a Beam job (`beam_jobs/`) or a
library function (`teacher/`); none re-implements the work."""
