//! ImageNet class names.
