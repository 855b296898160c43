//! Typed access to a node's attributes. Every lookup checks the attribute's declared type,
//! so a file that stores `group` as a float is an error, not a silent 0.

use super::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto, TensorProto};

/// The attributes of one node.
pub(super) struct Attrs<'n> {
    list: &'n [AttributeProto],
}

impl<'n> Attrs<'n> {
    pub fn of(node: &'n NodeProto) -> Self {
        Attrs {
            list: &node.attribute,
        }
    }

    fn get(&self, name: &str, kind: AttributeType) -> Result<Option<&'n AttributeProto>, String> {
        match self.list.iter().find(|a| a.name == name) {
            None => Ok(None),
            Some(a) if a.r#type == kind as i32 => Ok(Some(a)),
            Some(a) => Err(format!(
                "attribute `{name}` has type {}, expected {}",
                AttributeType::try_from(a.r#type).map_or("unknown", |t| t.as_str_name()),
                kind.as_str_name()
            )),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        Ok(self.get(name, AttributeType::Int)?.map(|a| a.i))
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, String> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    pub fn float(&self, name: &str) -> Result<Option<f32>, String> {
        Ok(self.get(name, AttributeType::Float)?.map(|a| a.f))
    }

    pub fn float_or(&self, name: &str, default: f32) -> Result<f32, String> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        Ok(self.get(name, AttributeType::Ints)?.map(|a| a.ints.clone()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, String> {
        Ok(self
            .get(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        self.get(name, AttributeType::String)?
            .map(|a| {
                String::from_utf8(a.s.clone())
                    .map_err(|_| format!("attribute `{name}` is not UTF-8"))
            })
            .transpose()
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'n TensorProto>, String> {
        Ok(self
            .get(name, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }

    /// The names of all attributes, for "unsupported attribute" checks.
    pub fn names(&self) -> impl Iterator<Item = &'n str> {
        self.list.iter().map(|a| a.name.as_str())
    }
}
