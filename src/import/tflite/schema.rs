//! The part of TFLite's flatbuffer schema (`tensorflow/lite/schema/schema.fbs`) that the
//! importer reads, decoded at once into plain values. Field numbers are the schema's
//! declaration order (a union takes two: its type, then its table). Enumerations are
//! newtypes over the file's integers, so a value this schema does not name still decodes
//! and is refused by whoever reads it, by name where it has one.

use super::flatbuf::{Reader, Result, Table};

/// The file: its operator kinds, subgraphs and constant buffers.
pub(super) struct Model<'a> {
    pub operator_codes: Vec<OperatorCode>,
    pub subgraphs: Vec<SubGraph>,
    /// Each buffer's bytes (empty when it holds none).
    pub buffers: Vec<&'a [u8]>,
}

pub(super) struct OperatorCode {
    /// The larger of `builtin_code` and `deprecated_builtin_code`, as TFLite reads them:
    /// files from older converters leave the first at 0 (ADD).
    pub builtin: BuiltinOperator,
    pub custom: Option<String>,
}

pub(super) struct SubGraph {
    pub tensors: Vec<Tensor>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub operators: Vec<Operator>,
}

pub(super) struct Tensor {
    pub shape: Vec<i32>,
    pub dtype: TensorType,
    pub buffer: u32,
    pub name: Option<String>,
    pub quantization: Option<QuantizationParameters>,
    pub sparse: bool,
}

pub(super) struct QuantizationParameters {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    /// Custom quantization details (a union member other than none).
    pub custom: bool,
    pub quantized_dimension: i32,
}

pub(super) struct Operator {
    pub opcode_index: u32,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options: Options,
}

/// The builtin options the importer reads.
pub(super) enum Options {
    Conv2D(ConvOptions),
    DepthwiseConv2D(ConvOptions),
    Pool2D(PoolOptions),
    FullyConnected(FullyConnectedOptions),
    Softmax {
        beta: f32,
    },
    Concatenation {
        axis: i32,
        fused: ActivationFunctionType,
    },
    Add {
        fused: ActivationFunctionType,
    },
    Mul {
        fused: ActivationFunctionType,
    },
    /// None in the file, or a kind the importer does not read.
    Other,
}

/// Conv2DOptions and DepthwiseConv2DOptions (whose depth multiplier the filter's shape
/// already says).
pub(super) struct ConvOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub fused: ActivationFunctionType,
    pub dilation_w: i32,
    pub dilation_h: i32,
}

pub(super) struct PoolOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub filter_width: i32,
    pub filter_height: i32,
    pub fused: ActivationFunctionType,
}

pub(super) struct FullyConnectedOptions {
    pub fused: ActivationFunctionType,
    pub weights_format: WeightsFormat,
}

/// A newtype over one of the schema's enumerations, with its named values.
macro_rules! schema_enum {
    ($(#[$doc:meta])* $name:ident($repr:ty) { $($value:ident = $n:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) struct $name(pub $repr);

        #[allow(dead_code)] // the schema's full list, for names in messages
        impl $name {
            $(pub const $value: Self = Self($n);)*

            /// The schema's name for the value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($n => Some(stringify!($value)),)*
                    _ => None,
                }
            }
        }
    };
}

schema_enum!(TensorType(i8) {
    FLOAT32 = 0, FLOAT16 = 1, INT32 = 2, UINT8 = 3, INT64 = 4, STRING = 5, BOOL = 6,
    INT16 = 7, COMPLEX64 = 8, INT8 = 9, FLOAT64 = 10, COMPLEX128 = 11, UINT64 = 12,
    RESOURCE = 13, VARIANT = 14, UINT32 = 15, UINT16 = 16, INT4 = 17,
});

schema_enum!(Padding(i8) { SAME = 0, VALID = 1 });

schema_enum!(ActivationFunctionType(i8) {
    NONE = 0, RELU = 1, RELU_N1_TO_1 = 2, RELU6 = 3, TANH = 4, SIGN_BIT = 5,
});

schema_enum!(
    /// The operator kinds, named for messages (later schemas add more, which stay numbers).
    BuiltinOperator(i32) {
    ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4,
    DEPTH_TO_SPACE = 5, DEQUANTIZE = 6, EMBEDDING_LOOKUP = 7, FLOOR = 8, FULLY_CONNECTED = 9,
    HASHTABLE_LOOKUP = 10, L2_NORMALIZATION = 11, L2_POOL_2D = 12,
    LOCAL_RESPONSE_NORMALIZATION = 13, LOGISTIC = 14, LSH_PROJECTION = 15, LSTM = 16,
    MAX_POOL_2D = 17, MUL = 18, RELU = 19, RELU_N1_TO_1 = 20, RELU6 = 21, RESHAPE = 22,
    RESIZE_BILINEAR = 23, RNN = 24, SOFTMAX = 25, SPACE_TO_DEPTH = 26, SVDF = 27, TANH = 28,
    CONCAT_EMBEDDINGS = 29, SKIP_GRAM = 30, CALL = 31, CUSTOM = 32,
    EMBEDDING_LOOKUP_SPARSE = 33, PAD = 34, UNIDIRECTIONAL_SEQUENCE_RNN = 35, GATHER = 36,
    BATCH_TO_SPACE_ND = 37, SPACE_TO_BATCH_ND = 38, TRANSPOSE = 39, MEAN = 40, SUB = 41,
    DIV = 42, SQUEEZE = 43, UNIDIRECTIONAL_SEQUENCE_LSTM = 44, STRIDED_SLICE = 45,
    BIDIRECTIONAL_SEQUENCE_RNN = 46, EXP = 47, TOPK_V2 = 48, SPLIT = 49, LOG_SOFTMAX = 50,
    DELEGATE = 51, BIDIRECTIONAL_SEQUENCE_LSTM = 52, CAST = 53, PRELU = 54, MAXIMUM = 55,
    ARG_MAX = 56, MINIMUM = 57, LESS = 58, NEG = 59, PADV2 = 60, GREATER = 61,
    GREATER_EQUAL = 62, LESS_EQUAL = 63, SELECT = 64, SLICE = 65, SIN = 66,
    TRANSPOSE_CONV = 67, SPARSE_TO_DENSE = 68, TILE = 69, EXPAND_DIMS = 70, EQUAL = 71,
    NOT_EQUAL = 72, LOG = 73, SUM = 74, SQRT = 75, RSQRT = 76, SHAPE = 77, POW = 78,
    ARG_MIN = 79, FAKE_QUANT = 80, REDUCE_PROD = 81, REDUCE_MAX = 82, PACK = 83,
    LOGICAL_OR = 84, ONE_HOT = 85, LOGICAL_AND = 86, LOGICAL_NOT = 87, UNPACK = 88,
    REDUCE_MIN = 89, FLOOR_DIV = 90, REDUCE_ANY = 91, SQUARE = 92, ZEROS_LIKE = 93, FILL = 94,
    FLOOR_MOD = 95, RANGE = 96, RESIZE_NEAREST_NEIGHBOR = 97, LEAKY_RELU = 98,
    SQUARED_DIFFERENCE = 99, MIRROR_PAD = 100, ABS = 101, SPLIT_V = 102, UNIQUE = 103,
    CEIL = 104, REVERSE_V2 = 105, ADD_N = 106, GATHER_ND = 107, COS = 108, WHERE = 109,
    RANK = 110, ELU = 111, REVERSE_SEQUENCE = 112, MATRIX_DIAG = 113, QUANTIZE = 114,
    MATRIX_SET_DIAG = 115, ROUND = 116, HARD_SWISH = 117, IF = 118, WHILE = 119,
    NON_MAX_SUPPRESSION_V4 = 120, NON_MAX_SUPPRESSION_V5 = 121, SCATTER_ND = 122,
    SELECT_V2 = 123, DENSIFY = 124, SEGMENT_SUM = 125, BATCH_MATMUL = 126,
    PLACEHOLDER_FOR_GREATER_OP_CODES = 127, CUMSUM = 128, CALL_ONCE = 129, BROADCAST_TO = 130,
    RFFT2D = 131, CONV_3D = 132, IMAG = 133, REAL = 134, COMPLEX_ABS = 135, HASHTABLE = 136,
    HASHTABLE_FIND = 137, HASHTABLE_IMPORT = 138, HASHTABLE_SIZE = 139, REDUCE_ALL = 140,
    CONV_3D_TRANSPOSE = 141, VAR_HANDLE = 142, READ_VARIABLE = 143, ASSIGN_VARIABLE = 144,
    BROADCAST_ARGS = 145, RANDOM_STANDARD_NORMAL = 146, BUCKETIZE = 147, RANDOM_UNIFORM = 148,
    MULTINOMIAL = 149, GELU = 150, DYNAMIC_UPDATE_SLICE = 151, RELU_0_TO_1 = 152,
    UNSORTED_SEGMENT_PROD = 153, UNSORTED_SEGMENT_MAX = 154, UNSORTED_SEGMENT_SUM = 155,
    ATAN2 = 156, UNSORTED_SEGMENT_MIN = 157, SIGN = 158, BITCAST = 159, BITWISE_XOR = 160,
    RIGHT_SHIFT = 161,
});

schema_enum!(
    /// FullyConnectedOptions' weight layout: `DEFAULT` is `[out][in]`; the other is
    /// shuffled for particular CPUs.
    WeightsFormat(i8) { DEFAULT = 0, SHUFFLED4X16INT8 = 1 }
);

schema_enum!(
    /// The `BuiltinOptions` union's members that the importer reads (of about 130).
    OptionsType(u8) {
        CONV_2D = 1, DEPTHWISE_CONV_2D = 2, POOL_2D = 5, FULLY_CONNECTED = 8, SOFTMAX = 9,
        CONCATENATION = 10, ADD = 11, MUL = 21,
    }
);

/// Decodes the model `bytes` hold (whose `TFL3` identifier the caller checked).
pub(super) fn decode(bytes: &[u8]) -> Result<Model<'_>> {
    let reader = Reader::new(bytes);
    let model = reader.root()?;
    Ok(Model {
        operator_codes: each(&model, 1, "operator code", operator_code)?,
        subgraphs: each(&model, 2, "subgraph", subgraph)?,
        buffers: each(&model, 4, "buffer", buffer)?,
    })
}

/// Decodes every table of the vector in field `id`; an error says which element failed.
fn each<'a, T>(
    t: &Table<'_, 'a>,
    id: usize,
    what: &str,
    decode: impl Fn(&Table<'_, 'a>) -> Result<T>,
) -> Result<Vec<T>> {
    t.tables(id)?
        .iter()
        .enumerate()
        .map(|(i, element)| decode(element).map_err(|e| format!("{what} #{i}: {e}")))
        .collect()
}

fn operator_code(t: &Table) -> Result<OperatorCode> {
    let deprecated = t.get::<i8>(0, 0)?;
    let builtin = t.get::<i32>(3, 0)?;
    Ok(OperatorCode {
        builtin: BuiltinOperator(builtin.max(i32::from(deprecated))),
        custom: t.string(1)?,
    })
}

fn subgraph(t: &Table) -> Result<SubGraph> {
    Ok(SubGraph {
        tensors: each(t, 0, "tensor", tensor)?,
        inputs: t.scalars(1)?,
        outputs: t.scalars(2)?,
        operators: each(t, 3, "operator", operator)?,
    })
}

fn tensor(t: &Table) -> Result<Tensor> {
    Ok(Tensor {
        shape: t.scalars(0)?,
        dtype: TensorType(t.get(1, 0)?),
        buffer: t.get(2, 0)?,
        name: t.string(3)?,
        quantization: t.table(4)?.map(|q| quantization(&q)).transpose()?,
        sparse: t.table(6)?.is_some(),
    })
}

fn quantization(t: &Table) -> Result<QuantizationParameters> {
    Ok(QuantizationParameters {
        scale: t.scalars(2)?,
        zero_point: t.scalars(3)?,
        custom: t.get::<u8>(4, 0)? != 0,
        quantized_dimension: t.get(6, 0)?,
    })
}

/// A buffer's bytes: in the flatbuffer, or (files over 2 GB) at an offset of the file
/// that is only meaningful above 1.
fn buffer<'a>(t: &Table<'_, 'a>) -> Result<&'a [u8]> {
    if let Some(data) = t.bytes(0)?.filter(|d| !d.is_empty()) {
        return Ok(data);
    }
    let (offset, size) = (t.get::<u64>(1, 0)?, t.get::<u64>(2, 0)?);
    if offset <= 1 {
        return Ok(&[]);
    }
    usize::try_from(offset)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(start, len)| t.file().get(start..start.checked_add(len)?))
        .ok_or_else(|| format!("its {size} bytes at offset {offset} lie outside the file"))
}

fn operator(t: &Table) -> Result<Operator> {
    Ok(Operator {
        opcode_index: t.get(0, 0)?,
        inputs: t.scalars(1)?,
        outputs: t.scalars(2)?,
        options: builtin_options(OptionsType(t.get(3, 0)?), t)?,
    })
}

/// The operator's options, read only for the kinds the importer uses: a damaged table
/// of another kind is as harmless as it is to TFLite for an op that ignores it.
fn builtin_options(kind: OptionsType, op: &Table) -> Result<Options> {
    // `OptionsType` names exactly the kinds read here.
    if kind.name().is_none() {
        return Ok(Options::Other);
    }
    let Some(o) = op.table(4)? else {
        return Ok(Options::Other);
    };
    let fused = |id| activation(&o, id);
    Ok(match kind {
        OptionsType::CONV_2D => Options::Conv2D(conv_options(&o, 3)?),
        // Field 3 is the depth multiplier, which the filter's shape already says.
        OptionsType::DEPTHWISE_CONV_2D => Options::DepthwiseConv2D(conv_options(&o, 4)?),
        OptionsType::POOL_2D => Options::Pool2D(PoolOptions {
            padding: Padding(o.get(0, 0)?),
            stride_w: o.get(1, 0)?,
            stride_h: o.get(2, 0)?,
            filter_width: o.get(3, 0)?,
            filter_height: o.get(4, 0)?,
            fused: fused(5)?,
        }),
        OptionsType::FULLY_CONNECTED => Options::FullyConnected(FullyConnectedOptions {
            fused: fused(0)?,
            weights_format: WeightsFormat(o.get(1, 0)?),
        }),
        OptionsType::SOFTMAX => Options::Softmax {
            beta: o.get(0, 0.0)?,
        },
        OptionsType::CONCATENATION => Options::Concatenation {
            axis: o.get(0, 0)?,
            fused: fused(1)?,
        },
        OptionsType::ADD => Options::Add { fused: fused(0)? },
        OptionsType::MUL => Options::Mul { fused: fused(0)? },
        _ => Options::Other,
    })
}

fn activation(o: &Table, id: usize) -> Result<ActivationFunctionType> {
    o.get(id, 0).map(ActivationFunctionType)
}

/// The fields Conv2DOptions and DepthwiseConv2DOptions share: padding and strides, then
/// from field `activation_field` on the fused activation and the dilations.
fn conv_options(o: &Table, activation_field: usize) -> Result<ConvOptions> {
    Ok(ConvOptions {
        padding: Padding(o.get(0, 0)?),
        stride_w: o.get(1, 0)?,
        stride_h: o.get(2, 0)?,
        fused: activation(o, activation_field)?,
        dilation_w: o.get(activation_field + 1, 1)?,
        dilation_h: o.get(activation_field + 2, 1)?,
    })
}
