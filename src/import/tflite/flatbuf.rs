//! A bounds-checked reader of the flatbuffer wire format, just enough for TFLite's schema
//! (`schema.rs`): tables through their vtables, scalars, strings, and vectors of scalars,
//! bytes and tables. Every offset read from the file is checked before it is followed, so a
//! damaged or hostile file gives an error of one line, never a panic.
//!
//! Flatbuffers may point many offsets at one table or vector, so a small file could make a
//! decoder allocate without bound. The reader charges everything it decodes to a budget
//! proportional to the file's size, which a file without such aliasing never exhausts.

use std::cell::Cell;

pub(super) type Result<T> = std::result::Result<T, String>;

/// What decoding may charge per byte of file, plus a constant for tiny files. The smallest
/// table a file can hold takes 8 bytes (its offset in a vector and its vtable offset, the
/// vtable shared) and is charged `TABLE_COST`, so a file without aliasing uses at most half
/// the budget; what decoding allocates stays within a small multiple of it.
const BUDGET_PER_BYTE: usize = 16;
const BUDGET_BASE: usize = 1 << 20;
/// What one decoded table is charged: the order of the structs it becomes.
const TABLE_COST: usize = 64;

/// The file's bytes and what is left of its decoding budget.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    budget: Cell<usize>,
}

/// One table: its position and its vtable's.
#[derive(Clone, Copy)]
pub(super) struct Table<'r, 'a> {
    reader: &'r Reader<'a>,
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

/// A little-endian scalar as flatbuffers store it.
pub(super) trait Scalar: Copy {
    const SIZE: usize;
    fn read(bytes: &[u8]) -> Self;
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn read(bytes: &[u8]) -> Self {
                let mut le = [0; std::mem::size_of::<$t>()];
                le.copy_from_slice(&bytes[..Self::SIZE]);
                <$t>::from_le_bytes(le)
            }
        }
    )*};
}
scalar!(u8, i8, u16, i32, u32, i64, u64, f32);

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        let budget = bytes
            .len()
            .saturating_mul(BUDGET_PER_BYTE)
            .saturating_add(BUDGET_BASE);
        Reader {
            bytes,
            budget: Cell::new(budget),
        }
    }

    /// The root table, whose offset opens the file.
    pub fn root(&self) -> Result<Table<'_, 'a>> {
        let pos = self.uoffset(0)?;
        self.table(pos)
    }

    fn table(&self, pos: usize) -> Result<Table<'_, 'a>> {
        self.charge(TABLE_COST)?;
        let soffset = i64::from(self.scalar::<i32>(pos)?);
        let vtable = usize::try_from(pos as i64 - soffset)
            .map_err(|_| format!("the table at byte {pos} has its vtable outside the file"))?;
        // As flatbuffers' own verifier: a vtable too short for a field leaves it out (even
        // one too short for its own header, which then has none).
        let vtable_len = usize::from(self.scalar::<u16>(vtable)?);
        if vtable_len % 2 != 0 || self.slice(vtable, vtable_len).is_err() {
            return Err(format!(
                "the table at byte {pos} has a malformed vtable at byte {vtable}"
            ));
        }
        Ok(Table {
            reader: self,
            pos,
            vtable,
            vtable_len,
        })
    }

    fn charge(&self, cost: usize) -> Result<()> {
        let left = self.budget.get().checked_sub(cost).ok_or_else(|| {
            "its tables decode to far more than its size (offsets alias one another)".to_string()
        })?;
        self.budget.set(left);
        Ok(())
    }

    fn slice(&self, pos: usize, len: usize) -> Result<&'a [u8]> {
        pos.checked_add(len)
            .and_then(|end| self.bytes.get(pos..end))
            .ok_or_else(|| {
                format!(
                    "{len} bytes at byte {pos} lie outside the file ({} bytes)",
                    self.bytes.len()
                )
            })
    }

    fn scalar<T: Scalar>(&self, pos: usize) -> Result<T> {
        self.slice(pos, T::SIZE).map(T::read)
    }

    /// The position an unsigned offset stored at `pos` points to.
    fn uoffset(&self, pos: usize) -> Result<usize> {
        let offset = self.scalar::<u32>(pos)? as usize;
        pos.checked_add(offset)
            .filter(|&target| target < self.bytes.len())
            .ok_or_else(|| format!("the offset at byte {pos} points outside the file"))
    }

    /// A vector's element count, the position of its first element and its elements'
    /// bytes, checked to fit in the file.
    fn vector(&self, pos: usize, element_size: usize) -> Result<(usize, usize, &'a [u8])> {
        let len = self.scalar::<u32>(pos)? as usize;
        let start = pos + 4;
        let bytes = len
            .checked_mul(element_size)
            .ok_or_else(|| format!("the vector at byte {pos} is too long"))?;
        Ok((len, start, self.slice(start, bytes)?))
    }
}

impl<'r, 'a> Table<'r, 'a> {
    /// The whole file, for data stored outside the flatbuffer's own tables.
    pub fn file(&self) -> &'a [u8] {
        self.reader.bytes
    }

    /// Where field `id` lies, if the table has it.
    fn field(&self, id: usize) -> Result<Option<usize>> {
        let slot = 4 + 2 * id;
        if slot + 2 > self.vtable_len {
            return Ok(None);
        }
        let offset = self.reader.scalar::<u16>(self.vtable + slot)?;
        Ok((offset != 0).then(|| self.pos + usize::from(offset)))
    }

    /// Where the object that field `id` refers to lies, if the table has the field.
    fn target(&self, id: usize) -> Result<Option<usize>> {
        self.field(id)?
            .map(|pos| self.reader.uoffset(pos))
            .transpose()
    }

    /// A scalar field, or the schema's `default` when the file leaves it out.
    pub fn get<T: Scalar>(&self, id: usize, default: T) -> Result<T> {
        self.field(id)?
            .map_or(Ok(default), |pos| self.reader.scalar(pos))
    }

    pub fn table(&self, id: usize) -> Result<Option<Table<'r, 'a>>> {
        self.target(id)?
            .map(|pos| self.reader.table(pos))
            .transpose()
    }

    /// A vector of scalars (empty when absent).
    pub fn scalars<T: Scalar>(&self, id: usize) -> Result<Vec<T>> {
        let Some(pos) = self.target(id)? else {
            return Ok(Vec::new());
        };
        let (len, _, bytes) = self.reader.vector(pos, T::SIZE)?;
        self.reader.charge(len.saturating_mul(T::SIZE))?;
        Ok(bytes.chunks_exact(T::SIZE).map(T::read).collect())
    }

    /// A vector of bytes, borrowed from the file (nothing is copied, so nothing charged).
    pub fn bytes(&self, id: usize) -> Result<Option<&'a [u8]>> {
        let Some(pos) = self.target(id)? else {
            return Ok(None);
        };
        self.reader.vector(pos, 1).map(|(_, _, bytes)| Some(bytes))
    }

    /// A string; bytes that are not UTF-8 are replaced (names only appear in messages).
    pub fn string(&self, id: usize) -> Result<Option<String>> {
        let Some(bytes) = self.bytes(id)? else {
            return Ok(None);
        };
        self.reader.charge(bytes.len())?;
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// A vector of tables (empty when absent).
    pub fn tables(&self, id: usize) -> Result<Vec<Table<'r, 'a>>> {
        let Some(pos) = self.target(id)? else {
            return Ok(Vec::new());
        };
        let (len, start, _) = self.reader.vector(pos, 4)?;
        (0..len)
            .map(|i| self.reader.table(self.reader.uoffset(start + 4 * i)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file whose root table (at byte 12) has one field, an offset to an i32 vector [7, -1]
    /// at byte 20. Its vtable sits at byte 4: 6 bytes long, the table 8 bytes inline, field 0
    /// at offset 4 in the table.
    fn one_vector_file() -> Vec<u8> {
        let mut b = vec![];
        b.extend(12u32.to_le_bytes()); // 0: root offset
        b.extend([6u16, 8, 4].iter().flat_map(|v| v.to_le_bytes())); // 4: vtable
        b.extend([0, 0]); // 10: padding
        b.extend(8i32.to_le_bytes()); // 12: table, vtable at 12 - 8 = 4
        b.extend(4u32.to_le_bytes()); // 16: field 0, vector at 16 + 4 = 20
        b.extend(2u32.to_le_bytes()); // 20: vector length
        b.extend(7i32.to_le_bytes());
        b.extend((-1i32).to_le_bytes());
        b
    }

    #[test]
    fn reads_fields_and_defaults() {
        let bytes = one_vector_file();
        let reader = Reader::new(&bytes);
        let root = reader.root().expect("root");
        assert_eq!(root.scalars::<i32>(0).expect("vector"), [7, -1]);
        assert_eq!(root.get::<u32>(5, 42).expect("default"), 42);
        assert!(root.table(7).expect("absent").is_none());
    }

    /// A table whose vtable is too short for its fields (here: no room for its own header)
    /// has none, as flatbuffers' verifier reads it.
    #[test]
    fn a_short_vtable_leaves_fields_out() {
        let mut bytes = one_vector_file();
        bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
        let reader = Reader::new(&bytes);
        let root = reader.root().expect("root");
        assert!(root.scalars::<i32>(0).expect("absent").is_empty());
        bytes[4..6].copy_from_slice(&5u16.to_le_bytes());
        assert!(Reader::new(&bytes).root().is_err(), "odd vtable length");
    }

    #[test]
    fn offsets_outside_the_file_are_errors() {
        let mut long_vector = one_vector_file();
        long_vector[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut far_root = one_vector_file();
        far_root[0..4].copy_from_slice(&1000u32.to_le_bytes());
        let mut vtable_before_file = one_vector_file();
        vtable_before_file[12..16].copy_from_slice(&100i32.to_le_bytes());
        for bytes in [long_vector, far_root, vtable_before_file] {
            let reader = Reader::new(&bytes);
            let error = reader
                .root()
                .and_then(|root| root.scalars::<i32>(0))
                .expect_err("must fail");
            assert!(!error.contains('\n'), "{error}");
        }
        assert!(Reader::new(&[1, 2]).root().is_err());
    }

    /// The densest file without aliasing, a vector of the smallest possible tables (8 bytes
    /// each, one vtable shared), stays within the budget.
    #[test]
    fn many_small_tables_fit_the_budget() {
        let n: u32 = 300_000;
        let mut b = vec![];
        b.extend(16u32.to_le_bytes()); // 0: root offset
        b.extend([6u16, 8, 4, 0].iter().flat_map(|v| v.to_le_bytes())); // 4: root vtable
        b.extend([4u16, 4].iter().flat_map(|v| v.to_le_bytes())); // 12: empty vtable
        b.extend(12i32.to_le_bytes()); // 16: root table, vtable at 4
        b.extend(4u32.to_le_bytes()); // 20: field 0, vector at 24
        b.extend(n.to_le_bytes()); // 24: vector length
        for _ in 0..n {
            b.extend((4 * n).to_le_bytes()); // each element: its table, 4n bytes on
        }
        for i in 0..n {
            let table = 28 + 4 * n + 4 * i;
            b.extend((table as i32 - 12).to_le_bytes()); // the empty vtable at 12
        }
        let reader = Reader::new(&b);
        let tables = reader.root().and_then(|root| root.tables(0));
        assert_eq!(tables.map(|t| t.len()), Ok(n as usize));
    }

    /// The same vector read again and again is charged each time, so aliasing cannot
    /// multiply a small file into unbounded memory.
    #[test]
    fn aliasing_exhausts_the_budget() {
        let bytes = one_vector_file();
        let reader = Reader::new(&bytes);
        let root = reader.root().expect("root");
        let reads = (BUDGET_BASE + bytes.len() * BUDGET_PER_BYTE) / 8 + 1;
        let failed = (0..reads).find_map(|_| root.scalars::<i32>(0).err());
        assert!(failed.is_some_and(|e| e.contains("alias")));
    }
}
