//! ImageNet class names, shipped with the crate, and top-k selection over class probabilities.
//!
//! The names come from `weights/imagenet_1000_synsets.tsv` (`synset<TAB>names`, the 1000
//! ImageNet-1k classes in index order). Most TFLite MobileNets have 1001 outputs whose class 0
//! is "background"; for those, output `i` is line `i - 1` of the file.

use std::sync::OnceLock;

/// The label of class 0 in 1001-class models.
pub const BACKGROUND: &str = "background";

const SYNSETS_TSV: &str = include_str!("../weights/imagenet_1000_synsets.tsv");

/// One ImageNet-1k class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synset {
    /// WordNet id, e.g. `n02123045`.
    pub id: &'static str,
    /// All names, comma-separated, e.g. `tabby, tabby cat`.
    pub names: &'static str,
}

impl Synset {
    /// The first of the comma-separated names: the short label shown to users.
    pub fn label(&self) -> &'static str {
        self.names.split(',').next().unwrap_or(self.names).trim()
    }
}

/// The 1000 ImageNet-1k classes in index order (no background).
pub fn synsets() -> &'static [Synset] {
    static SYNSETS: OnceLock<Vec<Synset>> = OnceLock::new();
    SYNSETS.get_or_init(|| SYNSETS_TSV.lines().filter_map(parse_line).collect())
}

fn parse_line(line: &'static str) -> Option<Synset> {
    let (id, names) = line.split_once('\t')?;
    Some(Synset {
        id,
        names: names.trim(),
    })
}

/// The synset of model output `index`, or `None` for background or an index out of range.
pub fn imagenet_synset(index: usize, background_class: bool) -> Option<&'static Synset> {
    let line = if background_class {
        index.checked_sub(1)?
    } else {
        index
    };
    synsets().get(line)
}

/// The short label of model output `index`: "background" for class 0 of a 1001-class model,
/// otherwise the first ImageNet name. `None` when `index` is past the last class.
pub fn imagenet_label(index: usize, background_class: bool) -> Option<&'static str> {
    if background_class && index == 0 {
        return Some(BACKGROUND);
    }
    imagenet_synset(index, background_class).map(Synset::label)
}

/// A class with its probability, as reported to users.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Class {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// The `k` most probable classes, most probable first; ties are ordered by lower index (uint8
/// outputs tie often). NaN probabilities rank last. Indices without an ImageNet name (models
/// with other class counts) are labelled `class <index>`.
pub fn top_k(probabilities: &[f32], k: usize, background_class: bool) -> Vec<Class> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    let key = |i: usize| {
        let p = probabilities[i];
        if p.is_nan() {
            f32::NEG_INFINITY
        } else {
            p
        }
    };
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|index| Class {
            index,
            label: imagenet_label(index, background_class)
                .map_or_else(|| format!("class {index}"), str::to_owned),
            probability: probabilities[index],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_has_1000_classes_in_order() {
        let all = synsets();
        assert_eq!(all.len(), 1000);
        assert_eq!(all[0].id, "n01440764");
        assert_eq!(all[0].label(), "tench");
        assert_eq!(all[999].label(), "toilet tissue");
    }

    #[test]
    fn background_shifts_indices_by_one() {
        assert_eq!(imagenet_label(0, true), Some("background"));
        assert_eq!(imagenet_label(1, true), Some("tench"));
        assert_eq!(imagenet_label(0, false), Some("tench"));
        assert_eq!(imagenet_label(282, true), Some("tabby"));
        assert_eq!(imagenet_label(282, false), Some("tiger cat"));
        assert_eq!(imagenet_label(1000, true), Some("toilet tissue"));
        assert_eq!(imagenet_label(1001, true), None);
        assert_eq!(imagenet_label(1000, false), None);
        assert_eq!(imagenet_synset(0, true), None);
    }

    #[test]
    fn full_names_are_exposed() {
        let tabby = imagenet_synset(282, true).expect("class 282");
        assert_eq!(tabby.names, "tabby, tabby cat");
        assert_eq!(tabby.label(), "tabby");
    }

    #[test]
    fn top_k_orders_by_probability_then_index() {
        let probabilities = [0.1, 0.3, f32::NAN, 0.3, 0.05, 0.25];
        let top = top_k(&probabilities, 4, false);
        let indices: Vec<usize> = top.iter().map(|c| c.index).collect();
        assert_eq!(indices, vec![1, 3, 5, 0]);
        assert_eq!(top[0].label, "goldfish");
        assert_eq!(top[0].probability, 0.3);
    }

    #[test]
    fn top_k_handles_short_inputs_and_unnamed_classes() {
        assert_eq!(top_k(&[0.5, 0.5], 5, false).len(), 2);
        let many = vec![0.0; 1002];
        let mut probabilities = many.clone();
        probabilities[1001] = 1.0;
        assert_eq!(top_k(&probabilities, 1, true)[0].label, "class 1001");
        assert!(top_k(&many, 0, true).is_empty());
    }

    /// The label file that ships with the TFLite models (in `../shared`, test data only) must
    /// name every class as we do. Skipped when absent, except in CI.
    #[test]
    fn labels_match_the_model_label_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/labels/imagenet_labels_1001.txt"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "{path} missing in CI"
            );
            eprintln!("skipped: {path} not found");
            return;
        };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        let differing: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                let theirs = lines[i]
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_lowercase();
                imagenet_label(i, true).map(str::to_lowercase) != Some(theirs)
            })
            .collect();
        assert!(
            differing.is_empty(),
            "{} labels differ, e.g. {:?}",
            differing.len(),
            &differing[..differing.len().min(5)]
        );
        for (i, line) in lines.iter().enumerate().skip(1) {
            assert_eq!(
                imagenet_synset(i, true).map(|s| s.names),
                Some(*line),
                "class {i}"
            );
        }
    }
}
