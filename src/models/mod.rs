//! Architecture builders: MobileNet V1, V2, V3 (large and small) and a CIFAR-10 V2 with
//! 7×7 depthwise convolutions, built as [`Graph`]s with deterministic random weights
//! drawn from a seed: He-style scaled convolutions and BatchNorms with random, clearly
//! non-identity statistics, so BatchNorm folding is really exercised.
//!
//! The layer structure, channel rounding and layer names follow the Keras applications
//! (`keras.applications.MobileNet`, `MobileNetV2`, `MobileNetV3Large/Small`), so parameter
//! and MAC counts can be checked against the published figures.

mod heads;
mod layers;
mod v1;
mod v2;
mod v2_k7;
mod v3;
mod weights;

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::graph::Graph;

/// Largest accepted width multiplier: beyond it the weights alone run into gigabytes.
const MAX_ALPHA: f32 = 4.0;
/// Largest accepted input side, to keep activation buffers addressable.
const MAX_RESOLUTION: usize = 4096;
/// Largest accepted number of classes or embedding units.
const MAX_HEAD_UNITS: usize = 100_000;

/// The architectures this crate can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    V1,
    V2,
    V3Large,
    V3Small,
    /// MobileNetV2 for CIFAR-10 with parallel 7×7 and 3×3 depthwise convolutions.
    V2K7,
}

impl Arch {
    /// Every architecture, in the order of their names in messages.
    pub const ALL: [Arch; 5] = [Arch::V1, Arch::V2, Arch::V3Large, Arch::V3Small, Arch::V2K7];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Arch::V1 => "v1",
            Arch::V2 => "v2",
            Arch::V3Large => "v3-large",
            Arch::V3Small => "v3-small",
            Arch::V2K7 => "v2-k7",
        }
    }

    fn is_v3(self) -> bool {
        matches!(self, Arch::V3Large | Arch::V3Small)
    }

    /// Smallest input side the architecture accepts (the CIFAR model has no stride-2
    /// stem, so it reaches a 1×1 feature map from 8×8).
    fn min_resolution(self) -> usize {
        match self {
            Arch::V2K7 => 8,
            _ => 32,
        }
    }

    fn default_resolution(self, head: Head) -> usize {
        match (self, head) {
            (Arch::V2K7, _) => 32,
            (_, Head::Embedding(_)) => 160,
            _ => 224,
        }
    }

    fn default_head(self) -> Head {
        match self {
            Arch::V2K7 => Head::Classifier(10),
            _ => Head::Classifier(1000),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        Arch::ALL
            .into_iter()
            .find(|arch| arch.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown architecture `{s}`; valid names are {}",
                    names.join(", ")
                ))
            })
    }
}

/// The top of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Softmax over this many classes.
    Classifier(usize),
    /// A face-embedding bottleneck of this many units (dense without bias, then
    /// BatchNorm without scale).
    Embedding(usize),
}

impl Head {
    fn units(self) -> usize {
        match self {
            Head::Classifier(n) | Head::Embedding(n) => n,
        }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Head::Classifier(n) => write!(f, "classifier:{n}"),
            Head::Embedding(n) => write!(f, "embedding:{n}"),
        }
    }
}

impl FromStr for Head {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "invalid head `{s}`: expected classifier:N or embedding:N with N a whole number from 1 to {MAX_HEAD_UNITS}"
            ))
        };
        let (kind, count) = s.trim().split_once(':').ok_or_else(bad)?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        let head = match kind.trim() {
            "classifier" => Head::Classifier(count),
            "embedding" => Head::Embedding(count),
            _ => return Err(bad()),
        };
        check_head(head)?;
        Ok(head)
    }
}

fn check_head(head: Head) -> Result<()> {
    let units = head.units();
    if !(1..=MAX_HEAD_UNITS).contains(&units) {
        return Err(Error::InvalidArgument(format!(
            "head {head} must have between 1 and {MAX_HEAD_UNITS} units"
        )));
    }
    Ok(())
}

/// Options that only MobileNetV3 has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct V3Options {
    /// Squeeze-excite bottleneck as a fraction of the expanded channels (0 removes the
    /// squeeze-excite blocks, as in Keras).
    pub se_ratio: f32,
    /// Gate squeeze-excite with Keras' old `0.2x + 0.5` hard sigmoid instead of
    /// `relu6(x + 3) / 6`.
    pub keras_hard_sigmoid: bool,
    /// Give V3-Small the 1280-unit penultimate layer of V3-Large instead of 1024.
    pub small_head_1280: bool,
}

impl Default for V3Options {
    fn default() -> Self {
        V3Options {
            se_ratio: 0.25,
            keras_hard_sigmoid: false,
            small_head_1280: false,
        }
    }
}

/// Everything that selects one model.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchConfig {
    pub arch: Arch,
    /// Width multiplier applied to every layer's channels.
    pub alpha: f32,
    /// Square input side; `None` for the architecture's default (224, 160 for an
    /// embedding head, 32 for v2-k7).
    pub resolution: Option<usize>,
    /// `None` for 1000 classes (10 for v2-k7).
    pub head: Option<Head>,
    pub v3: V3Options,
}

impl ArchConfig {
    /// The architecture at width 1.0 with default resolution, head and options.
    pub fn new(arch: Arch) -> Self {
        ArchConfig {
            arch,
            alpha: 1.0,
            resolution: None,
            head: None,
            v3: V3Options::default(),
        }
    }
}

/// A validated [`ArchConfig`] with the defaults filled in, as the builders see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BuildSpec {
    pub alpha: f32,
    pub resolution: usize,
    pub head: Head,
    pub v3: V3Options,
    pub seed: u64,
}

impl BuildSpec {
    fn resolve(config: &ArchConfig, seed: u64) -> Result<Self> {
        let arch = config.arch;
        check_alpha(arch, config.alpha)?;
        let head = config.head.unwrap_or(arch.default_head());
        check_head(head)?;
        let resolution = config.resolution.unwrap_or(arch.default_resolution(head));
        let min = arch.min_resolution();
        if !(min..=MAX_RESOLUTION).contains(&resolution) {
            return Err(Error::InvalidArgument(format!(
                "resolution for {arch} must be between {min} and {MAX_RESOLUTION}, got {resolution}"
            )));
        }
        check_v3_options(arch, config.v3)?;
        Ok(BuildSpec {
            alpha: config.alpha,
            resolution,
            head,
            v3: config.v3,
            seed,
        })
    }
}

fn check_alpha(arch: Arch, alpha: f32) -> Result<()> {
    if !alpha.is_finite() || alpha <= 0.0 || alpha > MAX_ALPHA {
        return Err(Error::InvalidArgument(format!(
            "alpha (width multiplier) must be a number above 0 and at most {MAX_ALPHA}, got {alpha}"
        )));
    }
    if arch == Arch::V1 && v1::scale_channels(v1::STEM_CHANNELS, alpha) == 0 {
        return Err(Error::InvalidArgument(format!(
            "alpha {alpha} leaves v1's {}-channel stem with no channels; use at least {}",
            v1::STEM_CHANNELS,
            1.0 / v1::STEM_CHANNELS as f32
        )));
    }
    Ok(())
}

fn check_v3_options(arch: Arch, v3: V3Options) -> Result<()> {
    if !v3.se_ratio.is_finite() || !(0.0..=1.0).contains(&v3.se_ratio) {
        return Err(Error::InvalidArgument(format!(
            "se_ratio must be between 0 and 1, got {}",
            v3.se_ratio
        )));
    }
    if !arch.is_v3() && v3 != V3Options::default() {
        return Err(Error::InvalidArgument(format!(
            "the MobileNetV3 options (se_ratio, keras_hard_sigmoid, small_head_1280) do not apply to {arch}"
        )));
    }
    if arch == Arch::V3Large && v3.small_head_1280 {
        return Err(Error::InvalidArgument(
            "small_head_1280 only applies to v3-small (v3-large always has 1280 units)".into(),
        ));
    }
    Ok(())
}

/// Builds `config`'s architecture with weights drawn deterministically from `seed`.
pub fn build(config: &ArchConfig, seed: u64) -> Result<Graph> {
    let spec = BuildSpec::resolve(config, seed)?;
    match config.arch {
        Arch::V1 => v1::build(&spec),
        Arch::V2 => v2::build(&spec),
        Arch::V2K7 => v2_k7::build(&spec),
        Arch::V3Large => v3::build(&spec, v3::Size::Large),
        Arch::V3Small => v3::build(&spec, v3::Size::Small),
    }
}

/// Rounds `v` channels to a multiple of `divisor` (at least `min_value`, default
/// `divisor`) the way TF/Keras `_make_divisible` does: to the nearest multiple, but
/// never more than 10% below `v`.
pub fn make_divisible(v: f32, divisor: usize, min_value: Option<usize>) -> usize {
    let divisor = divisor.max(1);
    let min_value = min_value.unwrap_or(divisor);
    let v = f64::from(v);
    let nearest = (v + divisor as f64 / 2.0) as usize / divisor * divisor;
    let rounded = min_value.max(nearest);
    if (rounded as f64) < 0.9 * v {
        rounded + divisor
    } else {
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names_round_trip() {
        for arch in Arch::ALL {
            assert_eq!(arch.to_string().parse::<Arch>().unwrap(), arch);
        }
        assert_eq!(" V3-Large ".parse::<Arch>().unwrap(), Arch::V3Large);
    }

    #[test]
    fn unknown_arch_lists_the_valid_names() {
        let message = "v4".parse::<Arch>().unwrap_err().to_string();
        assert!(message.contains("v4"), "{message}");
        assert!(
            message.contains("v1, v2, v3-large, v3-small, v2-k7"),
            "{message}"
        );
    }

    #[test]
    fn heads_parse_and_display() {
        assert_eq!(
            "classifier:10".parse::<Head>().unwrap(),
            Head::Classifier(10)
        );
        assert_eq!(
            "embedding:128".parse::<Head>().unwrap(),
            Head::Embedding(128)
        );
        assert_eq!(Head::Embedding(128).to_string(), "embedding:128");
        for bad in [
            "classifier",
            "classifier:0",
            "classifier:-3",
            "softmax:10",
            "embedding:x",
        ] {
            assert!(
                matches!(bad.parse::<Head>(), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults_depend_on_arch_and_head() {
        let spec = BuildSpec::resolve(&ArchConfig::new(Arch::V2K7), 0).unwrap();
        assert_eq!((spec.resolution, spec.head), (32, Head::Classifier(10)));
        let mut config = ArchConfig::new(Arch::V1);
        config.head = Some(Head::Embedding(128));
        assert_eq!(BuildSpec::resolve(&config, 0).unwrap().resolution, 160);
        let spec = BuildSpec::resolve(&ArchConfig::new(Arch::V3Small), 0).unwrap();
        assert_eq!((spec.resolution, spec.head), (224, Head::Classifier(1000)));
    }
}
