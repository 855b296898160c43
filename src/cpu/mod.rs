//! The CPU reference: plain implementations of every op, run on the unfused graph.
