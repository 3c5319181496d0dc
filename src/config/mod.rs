//! The YAML configuration: model, defaults, validation with file:line:column errors.
