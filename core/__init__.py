"""The ground floor every other package imports downward: the config model (`core.config`), the canonical
entities (`core.entities`), the secrets registry (`core.secrets`), the vocabulary of mapping transforms
(`core.transforms`) and the exit codes (`core.exit_codes`). It imports nothing of ours above it."""
