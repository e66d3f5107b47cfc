"""The ground floor every other package imports downward: the config model (`core.config`), the canonical
entities (`core.entities`), the secrets registry (`core.secrets`), the vocabulary of mapping transforms
(`core.transforms`), the exit codes (`core.exit_codes`) and the vocabulary the config and the matching engine
share (`core.vocabulary`: comparison kinds, string metrics, survivorship rules). It imports nothing of ours above it."""
