//! Model resolution by name: manifest, cache, download with checksum.
