"""Data package: the built-in prompt templates, one YAML file each (see `ai.prompts.library`)."""
