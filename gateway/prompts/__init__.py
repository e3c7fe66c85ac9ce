"""The prompt templates (`*.txt`, `string.Template` syntax), read by `gateway.prompting`."""
