//! A minimal reader of the kernel's BTF (/sys/kernel/btf/vmlinux): struct member offsets and
//! enum values, which our eBPF programs need because aya has no CO-RE for Rust programs.
//!
//! Parsing is bounds-checked (`bytes::Reader`); a malformed blob is an error, never a panic.
//! Format: include/uapi/linux/btf.h (header, type section, string section).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::bytes::{Reader, Truncated};

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";
const MAGIC: u16 = 0xeb9f;

#[derive(Debug, Error)]
pub enum BtfError {
    #[error("kernel BTF not readable at {path} (needs CONFIG_DEBUG_INFO_BTF): {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("BTF is malformed: {0}")]
    Malformed(String),
    #[error("BTF is truncated: {0}")]
    Truncated(#[from] Truncated),
    #[error("BTF has no {kind} named `{name}`")]
    NoType { kind: &'static str, name: String },
    #[error("BTF: `{ty}` has no member `{member}`")]
    NoMember { ty: String, member: String },
    #[error("BTF: `{ty}.{member}` is a bitfield, not addressable by byte offset")]
    Bitfield { ty: String, member: String },
}

/// BTF kinds we look at (BTF_KIND_*); the rest are only skipped over.
mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub type_id: u32,
    /// Offset from the start of the containing struct, in bits.
    pub bit_offset: u32,
    /// Non-zero for bitfields (only when the struct's kind_flag is set).
    pub bitfield_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Struct {
        name: String,
        members: Vec<Member>,
    },
    Union {
        name: String,
        members: Vec<Member>,
    },
    Enum {
        name: String,
        values: Vec<(String, i64)>,
    },
    /// Typedef and the qualifiers (const, volatile, restrict, type tag): point at another type.
    Alias {
        name: String,
        target: u32,
    },
    /// Everything else, kept only so ids stay aligned.
    Other {
        name: String,
    },
}

impl Type {
    fn name(&self) -> &str {
        match self {
            Type::Struct { name, .. }
            | Type::Union { name, .. }
            | Type::Enum { name, .. }
            | Type::Alias { name, .. }
            | Type::Other { name } => name,
        }
    }
}

/// Parsed BTF: types by id (id 0 is `void`, so `types[id - 1]`).
#[derive(Debug, Clone)]
pub struct Btf {
    types: Vec<Type>,
    by_name: HashMap<String, Vec<u32>>,
}

impl Btf {
    /// The running kernel's BTF.
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        Self::from_file(Path::new(VMLINUX))
    }

    pub fn from_file(path: &Path) -> Result<Self, BtfError> {
        let data = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&data)
    }

    /// Parse a native-endian BTF blob.
    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        let mut hdr = Reader::new(data);
        let magic = hdr.u16()?;
        if magic != MAGIC {
            return Err(BtfError::Malformed(format!(
                "magic {magic:#06x}, expected {MAGIC:#06x} (or foreign endianness)"
            )));
        }
        let _version = hdr.u8()?;
        let _flags = hdr.u8()?;
        let hdr_len = hdr.u32()? as usize;
        let type_off = hdr.u32()? as usize;
        let type_len = hdr.u32()? as usize;
        let str_off = hdr.u32()? as usize;
        let str_len = hdr.u32()? as usize;
        let section = |off: usize, len: usize, what: &str| -> Result<&[u8], BtfError> {
            hdr_len
                .checked_add(off)
                .and_then(|start| Some(start..start.checked_add(len)?))
                .and_then(|r| data.get(r))
                .ok_or_else(|| BtfError::Malformed(format!("{what} section out of bounds")))
        };
        let types = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?;

        let mut r = Reader::new(types);
        let mut parsed = Vec::new();
        while r.remaining() > 0 {
            parsed.push(parse_type(&mut r, strings)?);
        }
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, t) in parsed.iter().enumerate() {
            if !t.name().is_empty() {
                let id = u32::try_from(i + 1)
                    .map_err(|_| BtfError::Malformed("too many types".into()))?;
                by_name.entry(t.name().to_owned()).or_default().push(id);
            }
        }
        Ok(Self {
            types: parsed,
            by_name,
        })
    }

    pub fn type_by_id(&self, id: u32) -> Option<&Type> {
        let idx = usize::try_from(id).ok()?.checked_sub(1)?;
        self.types.get(idx)
    }

    /// Follow typedefs and qualifiers to the underlying type (bounded, so a cycle cannot hang).
    fn resolve(&self, mut id: u32) -> Option<(u32, &Type)> {
        for _ in 0..32 {
            match self.type_by_id(id)? {
                Type::Alias { target, .. } => id = *target,
                t => return Some((id, t)),
            }
        }
        None
    }

    fn struct_members(&self, name: &str) -> Result<&[Member], BtfError> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .find_map(|&id| match self.type_by_id(id) {
                Some(Type::Struct { members, .. }) if !members.is_empty() => {
                    Some(members.as_slice())
                }
                _ => None,
            })
            .ok_or_else(|| BtfError::NoType {
                kind: "struct",
                name: name.to_owned(),
            })
    }

    /// Byte offset of `path` inside `struct ty` (e.g. `("net_device", &["nd_net", "net"])`),
    /// looking through anonymous structs/unions and typedefs as C does.
    pub fn member_offset(&self, ty: &str, path: &[&str]) -> Result<u32, BtfError> {
        let mut members = self.struct_members(ty)?;
        let mut bits = 0u32;
        let mut owner = ty.to_owned();
        for (i, name) in path.iter().enumerate() {
            let (bit_offset, member) =
                self.find_member(members, name, 0)
                    .ok_or_else(|| BtfError::NoMember {
                        ty: owner.clone(),
                        member: (*name).to_owned(),
                    })?;
            if member.bitfield_size != 0 || bit_offset % 8 != 0 {
                return Err(BtfError::Bitfield {
                    ty: owner,
                    member: (*name).to_owned(),
                });
            }
            bits = bits
                .checked_add(bit_offset)
                .ok_or_else(|| BtfError::Malformed("offset overflow".into()))?;
            if i + 1 < path.len() {
                match self.resolve(member.type_id) {
                    Some((_, Type::Struct { members: m, .. } | Type::Union { members: m, .. })) => {
                        members = m
                    }
                    _ => {
                        return Err(BtfError::NoMember {
                            ty: format!("{owner}.{name}"),
                            member: path[i + 1].to_owned(),
                        });
                    }
                }
                owner = format!("{owner}.{name}");
            }
        }
        Ok(bits / 8)
    }

    /// Find `name` among `members`, descending into anonymous struct/union members; returns the
    /// member and its bit offset from the start of the outer struct.
    fn find_member<'a>(
        &'a self,
        members: &'a [Member],
        name: &str,
        depth: u32,
    ) -> Option<(u32, &'a Member)> {
        if depth > 8 {
            return None;
        }
        for m in members {
            if m.name == name {
                return Some((m.bit_offset, m));
            }
            if m.name.is_empty()
                && let Some((
                    _,
                    Type::Struct { members: inner, .. } | Type::Union { members: inner, .. },
                )) = self.resolve(m.type_id)
                && let Some((off, found)) = self.find_member(inner, name, depth + 1)
            {
                return Some((m.bit_offset.checked_add(off)?, found));
            }
        }
        None
    }

    /// The values of `enum name` (e.g. `skb_drop_reason`), as declared.
    pub fn enum_values(&self, name: &str) -> Result<&[(String, i64)], BtfError> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .find_map(|&id| match self.type_by_id(id) {
                Some(Type::Enum { values, .. }) => Some(values.as_slice()),
                _ => None,
            })
            .ok_or_else(|| BtfError::NoType {
                kind: "enum",
                name: name.to_owned(),
            })
    }

    /// The value of one enumerator, e.g. `("skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET")`.
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
}

fn string_at(strings: &[u8], off: u32) -> Result<String, BtfError> {
    let tail = usize::try_from(off)
        .ok()
        .and_then(|o| strings.get(o..))
        .ok_or_else(|| BtfError::Malformed(format!("string offset {off} out of bounds")))?;
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}

fn parse_type(r: &mut Reader<'_>, strings: &[u8]) -> Result<Type, BtfError> {
    let name = string_at(strings, r.u32()?)?;
    let info = r.u32()?;
    let size_or_type = r.u32()?;
    let vlen = (info & 0xffff) as usize;
    let kind = (info >> 24) & 0x1f;
    let kind_flag = info >> 31 == 1;
    Ok(match kind {
        kind::STRUCT | kind::UNION => {
            let mut members = Vec::with_capacity(vlen.min(r.remaining() / 12));
            for _ in 0..vlen {
                let m_name = string_at(strings, r.u32()?)?;
                let type_id = r.u32()?;
                let offset = r.u32()?;
                let (bit_offset, bitfield_size) = if kind_flag {
                    (offset & 0x00ff_ffff, offset >> 24)
                } else {
                    (offset, 0)
                };
                members.push(Member {
                    name: m_name,
                    type_id,
                    bit_offset,
                    bitfield_size,
                });
            }
            if kind == kind::STRUCT {
                Type::Struct { name, members }
            } else {
                Type::Union { name, members }
            }
        }
        kind::ENUM | kind::ENUM64 => {
            let mut values = Vec::with_capacity(vlen.min(r.remaining() / 8));
            for _ in 0..vlen {
                let v_name = string_at(strings, r.u32()?)?;
                let value = if kind == kind::ENUM {
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
                values.push((v_name, value));
            }
            Type::Enum { name, values }
        }
        kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
            Type::Alias {
                name,
                target: size_or_type,
            }
        }
        kind::INT | kind::VAR | kind::DECL_TAG => {
            r.skip(4)?;
            Type::Other { name }
        }
        kind::ARRAY => {
            r.skip(12)?;
            Type::Other { name }
        }
        kind::FUNC_PROTO => {
            r.skip(
                vlen.checked_mul(8)
                    .ok_or(BtfError::Malformed("vlen".into()))?,
            )?;
            Type::Other { name }
        }
        kind::DATASEC => {
            r.skip(
                vlen.checked_mul(12)
                    .ok_or(BtfError::Malformed("vlen".into()))?,
            )?;
            Type::Other { name }
        }
        kind::PTR | kind::FWD | kind::FUNC | kind::FLOAT => Type::Other { name },
        other => return Err(BtfError::Malformed(format!("unknown BTF kind {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a tiny BTF blob: `struct outer { int a; union { int b; struct inner c; }; }`,
    /// `struct inner { int x; int y; }`, `enum e { E0 = 0, E7 = 7 }`.
    fn sample() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0c\0inner\0x\0y\0e\0E0\0E7\0";
        let s = |name: &str| -> u32 {
            let pat = format!("\0{name}\0");
            strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut t = Vec::new();
        let mut push = |v: &[u32]| v.iter().for_each(|x| t.extend_from_slice(&x.to_ne_bytes()));
        // 1: int
        push(&[s("int"), kind::INT << 24, 4, 32]);
        // 2: struct inner { x@0, y@32 }
        push(&[s("inner"), kind::STRUCT << 24 | 2, 8]);
        push(&[s("x"), 1, 0, s("y"), 1, 32]);
        // 3: anonymous union { b@0, c@0 }
        push(&[0, kind::UNION << 24 | 2, 8]);
        push(&[s("b"), 1, 0, s("c"), 5, 0]);
        // 4: struct outer { a@0, <anon union>@64 }
        push(&[s("outer"), kind::STRUCT << 24 | 2, 16]);
        push(&[s("a"), 1, 0, 0, 3, 64]);
        // 5: typedef inner_t -> 2 (unnamed typedef is fine for the test)
        push(&[0, kind::TYPEDEF << 24, 2]);
        // 6: enum e
        push(&[s("e"), kind::ENUM << 24 | 2, 4]);
        push(&[s("E0"), 0, s("E7"), 7]);
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
        out.extend_from_slice(&t);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn offsets_through_anonymous_unions_and_typedefs() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.member_offset("outer", &["a"]).unwrap(), 0);
        assert_eq!(btf.member_offset("outer", &["b"]).unwrap(), 8);
        assert_eq!(btf.member_offset("outer", &["c", "y"]).unwrap(), 12);
        assert_eq!(btf.enum_value("e", "E7").unwrap(), 7);
        assert!(matches!(
            btf.member_offset("outer", &["zz"]),
            Err(BtfError::NoMember { .. })
        ));
        assert!(matches!(
            btf.member_offset("nope", &["a"]),
            Err(BtfError::NoType { .. })
        ));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let blob = sample();
        for len in 0..blob.len() {
            let _ = Btf::parse(&blob[..len]);
        }
        let mut bad = blob.clone();
        bad[0] ^= 0xff;
        assert!(matches!(Btf::parse(&bad), Err(BtfError::Malformed(_))));
    }

    #[test]
    fn running_kernel_has_the_fields_the_drop_counter_needs() {
        let btf = Btf::from_sys_fs().expect("this test needs /sys/kernel/btf/vmlinux");
        let dev = btf.member_offset("sk_buff", &["dev"]).unwrap();
        assert!(dev < 256, "sk_buff.dev at {dev}");
        btf.member_offset("net_device", &["nd_net", "net"]).unwrap();
        btf.member_offset("net", &["ns", "inum"]).unwrap();
        let no_socket = btf
            .enum_value("skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET")
            .unwrap();
        assert!(no_socket > 0, "NO_SOCKET = {no_socket}");
    }
}
