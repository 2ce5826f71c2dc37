//! A small reader of the kernel's BTF (/sys/kernel/btf/vmlinux).
//!
//! We need two things from it: the values of enums (`enum skb_drop_reason` names the drop
//! reasons; the kernel renumbers them between versions) and struct member offsets (sk_buff,
//! net_device, ...), because aya has no CO-RE relocations for Rust programs: offsets are resolved
//! here and handed to the eBPF programs as load-time globals. Every read is bounds-checked; a
//! malformed blob gives an error, never a panic or a wrong offset.

use std::collections::HashMap;
use std::path::Path;

use thiserror::Error;

use crate::bytes::{Reader, Truncated};

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Names another file as the kernel's BTF: for support engineers reproducing a host whose BTF
/// is missing or broken (an empty file shows what `drops` says there). Documented in
/// docs/troubleshooting.md, not in --help.
pub const BTF_PATH_ENV: &str = "NFPROBE_BTF_PATH";

/// Where the running kernel's BTF is read from: [`VMLINUX`] unless [`BTF_PATH_ENV`] is set.
pub fn vmlinux_path() -> std::path::PathBuf {
    match std::env::var_os(BTF_PATH_ENV) {
        Some(p) if !p.is_empty() => p.into(),
        _ => VMLINUX.into(),
    }
}

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u8 = 1;
const KIND_PTR: u8 = 2;
const KIND_ARRAY: u8 = 3;
const KIND_STRUCT: u8 = 4;
const KIND_UNION: u8 = 5;
const KIND_ENUM: u8 = 6;
const KIND_FWD: u8 = 7;
const KIND_TYPEDEF: u8 = 8;
const KIND_VOLATILE: u8 = 9;
const KIND_CONST: u8 = 10;
const KIND_RESTRICT: u8 = 11;
const KIND_FUNC: u8 = 12;
const KIND_FUNC_PROTO: u8 = 13;
const KIND_VAR: u8 = 14;
const KIND_DATASEC: u8 = 15;
const KIND_FLOAT: u8 = 16;
const KIND_DECL_TAG: u8 = 17;
const KIND_TYPE_TAG: u8 = 18;
const KIND_ENUM64: u8 = 19;

#[derive(Debug, Error)]
pub enum BtfError {
    #[error("cannot read BTF from {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is empty")]
    Empty { path: String },
    #[error("not a BTF blob (magic {0:#06x})")]
    BadMagic(u16),
    #[error("malformed BTF: {0}")]
    Truncated(#[from] Truncated),
    #[error("malformed BTF: {0}")]
    Malformed(String),
    #[error("BTF has no type `{0}`")]
    NoType(String),
    #[error("BTF type `{ty}` has no member `{member}`")]
    NoMember { ty: String, member: String },
    #[error("BTF member `{ty}.{member}` is a bitfield; no byte offset")]
    Bitfield { ty: String, member: String },
}

/// One member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    ty: u32,
    bit_offset: u32,
    bitfield_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Type {
    Int {
        name: String,
        size: u32,
    },
    Ptr,
    Array {
        elem: u32,
        nelems: u32,
    },
    Struct {
        name: String,
        size: u32,
        members: Vec<Member>,
    },
    Union {
        name: String,
        size: u32,
        members: Vec<Member>,
    },
    Enum {
        name: String,
        size: u32,
        values: Vec<(String, i64)>,
    },
    /// typedef, const, volatile, restrict, type tag: a name (maybe empty) for another type.
    Alias {
        name: String,
        target: u32,
    },
    Other {
        name: String,
    },
}

/// Where a (possibly nested) member sits, in bytes from the start of the outer struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    /// Size in bytes of the member's type (pointers are 8 on the 64-bit kernels we support).
    pub size: u32,
}

/// The parsed type section of a BTF blob. Type ids start at 1 (0 is void).
#[derive(Debug)]
pub struct Btf {
    types: Vec<Type>,
    by_name: HashMap<String, Vec<u32>>,
}

impl Btf {
    /// The running kernel's BTF.
    pub fn from_sys() -> Result<Self, BtfError> {
        Self::from_path(&vmlinux_path())
    }

    /// Same as [`Btf::from_sys`] (aya's spelling).
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        Self::from_sys()
    }

    pub fn from_file(path: &Path) -> Result<Self, BtfError> {
        Self::from_path(path)
    }

    pub fn from_path(path: &Path) -> Result<Self, BtfError> {
        let data = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.display().to_string(),
            source,
        })?;
        if data.is_empty() {
            return Err(BtfError::Empty {
                path: path.display().to_string(),
            });
        }
        Self::parse(&data)
    }

    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        let mut r = Reader::new(data);
        let magic = r.u16()?;
        if magic != MAGIC {
            return Err(BtfError::BadMagic(magic));
        }
        let _version = r.u8()?;
        let _flags = r.u8()?;
        let hdr_len = r.u32()? as usize;
        let type_off = r.u32()? as usize;
        let type_len = r.u32()? as usize;
        let str_off = r.u32()? as usize;
        let str_len = r.u32()? as usize;
        let section = |off: usize, len: usize| -> Result<&[u8], BtfError> {
            hdr_len
                .checked_add(off)
                .and_then(|s| s.checked_add(len).map(|e| (s, e)))
                .and_then(|(s, e)| data.get(s..e))
                .ok_or_else(|| BtfError::Malformed(format!("section {off}+{len} out of bounds")))
        };
        let types_raw = section(type_off, type_len)?;
        let strings = section(str_off, str_len)?;
        let name = |off: u32| -> Result<String, BtfError> {
            let s = strings
                .get(off as usize..)
                .ok_or_else(|| BtfError::Malformed(format!("string offset {off} out of bounds")))?;
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
            Ok(String::from_utf8_lossy(&s[..end]).into_owned())
        };

        let mut types = Vec::new();
        let mut r = Reader::new(types_raw);
        while r.remaining() > 0 {
            let name_off = r.u32()?;
            let info = r.u32()?;
            let size_or_type = r.u32()?;
            let vlen = (info & 0xffff) as usize;
            let kind = ((info >> 24) & 0x1f) as u8;
            let kind_flag = info >> 31 == 1;
            let ty = match kind {
                KIND_INT => {
                    r.skip(4)?;
                    Type::Int {
                        name: name(name_off)?,
                        size: size_or_type,
                    }
                }
                KIND_PTR => Type::Ptr,
                KIND_ARRAY => {
                    let elem = r.u32()?;
                    let _index = r.u32()?;
                    let nelems = r.u32()?;
                    Type::Array { elem, nelems }
                }
                KIND_STRUCT | KIND_UNION => {
                    let mut members = Vec::with_capacity(vlen.min(1024));
                    for _ in 0..vlen {
                        let m_name = r.u32()?;
                        let m_ty = r.u32()?;
                        let m_off = r.u32()?;
                        let (bit_offset, bitfield_size) = if kind_flag {
                            (m_off & 0x00ff_ffff, m_off >> 24)
                        } else {
                            (m_off, 0)
                        };
                        members.push(Member {
                            name: name(m_name)?,
                            ty: m_ty,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    let name = name(name_off)?;
                    if kind == KIND_STRUCT {
                        Type::Struct {
                            name,
                            size: size_or_type,
                            members,
                        }
                    } else {
                        Type::Union {
                            name,
                            size: size_or_type,
                            members,
                        }
                    }
                }
                KIND_ENUM | KIND_ENUM64 => {
                    let mut values = Vec::with_capacity(vlen.min(4096));
                    for _ in 0..vlen {
                        let v_name = r.u32()?;
                        let value = if kind == KIND_ENUM {
                            let raw = r.u32()?;
                            // kind_flag marks a signed enum.
                            if kind_flag {
                                i64::from(raw as i32)
                            } else {
                                i64::from(raw)
                            }
                        } else {
                            let lo = u64::from(r.u32()?);
                            let hi = u64::from(r.u32()?);
                            ((hi << 32) | lo) as i64
                        };
                        values.push((name(v_name)?, value));
                    }
                    Type::Enum {
                        name: name(name_off)?,
                        size: size_or_type,
                        values,
                    }
                }
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    Type::Alias {
                        name: name(name_off)?,
                        target: size_or_type,
                    }
                }
                KIND_FWD | KIND_FUNC | KIND_FLOAT => Type::Other {
                    name: name(name_off)?,
                },
                KIND_FUNC_PROTO => {
                    r.skip(vlen.checked_mul(8).ok_or_else(|| too_long(vlen))?)?;
                    Type::Other {
                        name: String::new(),
                    }
                }
                KIND_VAR | KIND_DECL_TAG => {
                    r.skip(4)?;
                    Type::Other {
                        name: name(name_off)?,
                    }
                }
                KIND_DATASEC => {
                    r.skip(vlen.checked_mul(12).ok_or_else(|| too_long(vlen))?)?;
                    Type::Other {
                        name: name(name_off)?,
                    }
                }
                other => {
                    return Err(BtfError::Malformed(format!(
                        "unknown BTF kind {other} at type {}",
                        types.len() + 1
                    )));
                }
            };
            types.push(ty);
        }
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, t) in types.iter().enumerate() {
            let n = match t {
                Type::Struct { name, .. } | Type::Union { name, .. } | Type::Enum { name, .. } => {
                    name
                }
                _ => continue,
            };
            if !n.is_empty() {
                by_name.entry(n.clone()).or_default().push(i as u32 + 1);
            }
        }
        Ok(Self { types, by_name })
    }

    /// Whether a typedef of this name exists (the kernel declares `btf_trace_NAME` for each
    /// tracepoint a BTF tracepoint program can attach to).
    pub fn has_typedef(&self, name: &str) -> bool {
        self.types
            .iter()
            .any(|t| matches!(t, Type::Alias { name: n, .. } if n == name))
    }

    fn get(&self, id: u32) -> Option<&Type> {
        id.checked_sub(1).and_then(|i| self.types.get(i as usize))
    }

    /// Follow typedefs and qualifiers (bounded, so a loop in a bad blob cannot hang us).
    fn resolve(&self, mut id: u32) -> Option<(u32, &Type)> {
        for _ in 0..32 {
            match self.get(id)? {
                Type::Alias { target, .. } => id = *target,
                t => return Some((id, t)),
            }
        }
        None
    }

    fn size_of(&self, id: u32) -> Option<u32> {
        match self.resolve(id)?.1 {
            Type::Int { size, .. }
            | Type::Struct { size, .. }
            | Type::Union { size, .. }
            | Type::Enum { size, .. } => Some(*size),
            Type::Ptr => Some(8),
            Type::Array { elem, nelems } => self.size_of(*elem)?.checked_mul(*nelems),
            _ => None,
        }
    }

    /// All values of `enum NAME` (empty names are never looked up), in declaration order.
    pub fn enum_values(&self, name: &str) -> Result<&[(String, i64)], BtfError> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .find_map(|&id| match self.get(id) {
                Some(Type::Enum { values, .. }) => Some(values.as_slice()),
                _ => None,
            })
            .ok_or_else(|| BtfError::NoType(format!("enum {name}")))
    }

    /// The value of `value_name` in `enum enum_name`.
    pub fn enum_value(&self, enum_name: &str, value_name: &str) -> Result<i64, BtfError> {
        self.enum_values(enum_name)?
            .iter()
            .find(|(n, _)| n == value_name)
            .map(|(_, v)| *v)
            .ok_or_else(|| BtfError::NoMember {
                ty: format!("enum {enum_name}"),
                member: value_name.to_owned(),
            })
    }

    /// Byte offset of the member reached through `path` (one name per nesting level).
    pub fn member_offset(&self, ty: &str, path: &[&str]) -> Result<u32, BtfError> {
        Ok(self.member(ty, &path.join("."))?.offset)
    }

    /// Every named enum with its values (for subsystem drop-reason enums).
    pub fn enums(&self) -> impl Iterator<Item = (&str, &[(String, i64)])> {
        self.types.iter().filter_map(|t| match t {
            Type::Enum { name, values, .. } if !name.is_empty() => {
                Some((name.as_str(), values.as_slice()))
            }
            _ => None,
        })
    }

    /// The value of one enumerator, searching every enum (anonymous ones included).
    pub fn enumerator(&self, name: &str) -> Option<i64> {
        self.types.iter().find_map(|t| match t {
            Type::Enum { values, .. } => values.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
            _ => None,
        })
    }

    fn struct_id(&self, name: &str) -> Result<u32, BtfError> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .find(|&id| matches!(self.get(id), Some(Type::Struct { .. } | Type::Union { .. })))
            .ok_or_else(|| BtfError::NoType(format!("struct {name}")))
    }

    /// Size of `struct NAME`.
    pub fn struct_size(&self, name: &str) -> Result<u32, BtfError> {
        let id = self.struct_id(name)?;
        self.size_of(id)
            .ok_or_else(|| BtfError::NoType(format!("struct {name}")))
    }

    /// Byte offset and size of `path` (members separated by `.`, e.g. `ns.inum`) inside
    /// `struct ty`. Members of anonymous unions/structs are found as the C compiler finds them.
    pub fn member(&self, ty: &str, path: &str) -> Result<Field, BtfError> {
        let mut id = self.struct_id(ty)?;
        let mut offset_bits: u32 = 0;
        let mut size = 0;
        for part in path.split('.') {
            let no_member = || BtfError::NoMember {
                ty: ty.to_owned(),
                member: path.to_owned(),
            };
            let (bits, m) = self.find_member(id, part, 0).ok_or_else(no_member)?;
            if m.bitfield_size != 0 {
                return Err(BtfError::Bitfield {
                    ty: ty.to_owned(),
                    member: path.to_owned(),
                });
            }
            offset_bits = offset_bits.checked_add(bits).ok_or_else(no_member)?;
            size = self.size_of(m.ty).ok_or_else(no_member)?;
            id = m.ty;
        }
        if !offset_bits.is_multiple_of(8) {
            return Err(BtfError::Bitfield {
                ty: ty.to_owned(),
                member: path.to_owned(),
            });
        }
        Ok(Field {
            offset: offset_bits / 8,
            size,
        })
    }

    /// Depth-first search through anonymous members; returns the bit offset from `id`'s start.
    /// Bounded in depth and in types visited, so a malicious blob cannot make it explode.
    fn find_member(&self, id: u32, name: &str, depth: u32) -> Option<(u32, &Member)> {
        let mut budget = 4096u32;
        self.find_member_in(id, name, depth, &mut budget)
    }

    fn find_member_in(
        &self,
        id: u32,
        name: &str,
        depth: u32,
        budget: &mut u32,
    ) -> Option<(u32, &Member)> {
        if depth > 8 || *budget == 0 {
            return None;
        }
        *budget -= 1;
        let members = match self.resolve(id)?.1 {
            Type::Struct { members, .. } | Type::Union { members, .. } => members,
            _ => return None,
        };
        if let Some(m) = members.iter().find(|m| m.name == name) {
            return Some((m.bit_offset, m));
        }
        for m in members.iter().filter(|m| m.name.is_empty()) {
            if let Some((inner, found)) = self.find_member_in(m.ty, name, depth + 1, budget) {
                return Some((m.bit_offset.checked_add(inner)?, found));
            }
            if *budget == 0 {
                return None;
            }
        }
        None
    }

    /// Whether `struct ty` has `path`, for optional fields.
    pub fn has_member(&self, ty: &str, path: &str) -> bool {
        self.member(ty, path).is_ok()
    }

    /// Name of the int/enum/struct a member's type resolves to (tests and diagnostics).
    pub fn type_name_of(&self, ty: &str, member: &str) -> Option<String> {
        let id = self.struct_id(ty).ok()?;
        let (_, m) = self.find_member(id, member, 0)?;
        match self.resolve(m.ty)?.1 {
            Type::Int { name, .. }
            | Type::Struct { name, .. }
            | Type::Union { name, .. }
            | Type::Enum { name, .. } => Some(name.clone()),
            Type::Ptr => Some("*".into()),
            _ => None,
        }
    }
}

fn too_long(vlen: usize) -> BtfError {
    BtfError::Malformed(format!("vlen {vlen} too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made blob: struct outer { int a; union { int b; long c; }; } and enum e { X = 7 }.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0c\0e\0X\0long\0".to_vec();
        let s = |n: &str| -> u32 {
            let pos = strings
                .windows(n.len() + 2)
                .position(|w| w[0] == 0 && &w[1..=n.len()] == n.as_bytes() && w[n.len() + 1] == 0)
                .unwrap();
            pos as u32 + 1
        };
        let mut t = Vec::new();
        let mut push = |v: &[u32]| v.iter().for_each(|x| t.extend_from_slice(&x.to_ne_bytes()));
        push(&[s("int"), (KIND_INT as u32) << 24, 4, 32]); // 1
        push(&[s("long"), (KIND_INT as u32) << 24, 8, 64]); // 2
        push(&[0, (KIND_UNION as u32) << 24 | 2, 8]); // 3
        push(&[s("b"), 1, 0]);
        push(&[s("c"), 2, 0]);
        push(&[s("outer"), (KIND_STRUCT as u32) << 24 | 2, 16]); // 4
        push(&[s("a"), 1, 0]);
        push(&[0, 3, 64]);
        push(&[s("e"), (KIND_ENUM as u32) << 24 | 1, 4]); // 5
        push(&[s("X"), 7]);
        assemble(&t, &strings)
    }

    /// A BTF blob: header (version 1, 24 bytes), then the type and string sections.
    fn assemble(t: &[u8], strings: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_ne_bytes());
        out.extend_from_slice(&[1, 0]);
        for v in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        out.extend_from_slice(t);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn anonymous_members_and_enums() {
        let btf = Btf::parse(&blob()).unwrap();
        assert_eq!(
            btf.member("outer", "a").unwrap(),
            Field { offset: 0, size: 4 }
        );
        assert_eq!(
            btf.member("outer", "c").unwrap(),
            Field { offset: 8, size: 8 }
        );
        assert!(btf.member("outer", "zz").is_err());
        assert_eq!(btf.enum_values("e").unwrap(), &[("X".to_owned(), 7)]);
        assert_eq!(btf.enum_value("e", "X").unwrap(), 7);
        assert_eq!(btf.member_offset("outer", &["c"]).unwrap(), 8);
        assert_eq!(btf.enumerator("X"), Some(7));
    }

    #[test]
    fn self_referencing_anonymous_members_stay_bounded() {
        // struct s { 64 anonymous members of type s } : a naive search is 64^9 steps.
        let strings = b"\0s\0".to_vec();
        let mut t = Vec::new();
        let mut push = |v: &[u32]| v.iter().for_each(|x| t.extend_from_slice(&x.to_ne_bytes()));
        push(&[1, (KIND_STRUCT as u32) << 24 | 64, 8]);
        for _ in 0..64 {
            push(&[0, 1, 0]);
        }
        let out = assemble(&t, &strings);
        let btf = Btf::parse(&out).unwrap();
        let start = std::time::Instant::now();
        assert!(btf.member("s", "missing").is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = blob();
        for n in 0..b.len() {
            let _ = Btf::parse(&b[..n]);
        }
        let mut bad = b.clone();
        bad[0] = 0;
        assert!(matches!(Btf::parse(&bad), Err(BtfError::BadMagic(_))));
    }

    #[test]
    fn running_kernel() {
        let btf = Btf::from_sys().expect("this test needs /sys/kernel/btf/vmlinux");
        let reasons = btf.enum_values("skb_drop_reason").unwrap();
        assert!(
            reasons
                .iter()
                .any(|(n, _)| n == "SKB_DROP_REASON_NO_SOCKET")
        );
        assert!(
            reasons
                .iter()
                .any(|(n, _)| n == "SKB_DROP_REASON_NETFILTER_DROP")
        );
        let len = btf.member("sk_buff", "len").unwrap();
        assert_eq!(len.size, 4);
        assert!(len.offset > 0 && len.offset < btf.struct_size("sk_buff").unwrap());
        // dev sits in anonymous unions/structs at the start of sk_buff.
        let dev = btf.member("sk_buff", "dev").unwrap();
        assert_eq!(dev.size, 8);
        assert!(dev.offset < 64);
        assert_eq!(btf.type_name_of("sk_buff", "dev").as_deref(), Some("*"));
        assert!(btf.member("net", "ns.inum").is_ok());
        assert!(btf.member("net_device", "ifindex").is_ok());
        assert!(btf.member("net_device", "nd_net.net").is_ok());
        assert!(btf.member("dst_entry", "dev").is_ok());
        assert!(btf.member("sk_buff", "_skb_refdst").is_ok());
        assert!(btf.member("sk_buff", "no_such_field").is_err());
    }
}
