//! Architecture builders (deterministic random weights from a seed).
