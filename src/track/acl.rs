//! POSIX access ACLs, as Linux stores them in the `system.posix_acl_access` extended
//! attribute: an ACL can let a user write a file whose mode bits say only root may.
//!
//! The format (see `include/uapi/linux/posix_acl_xattr.h`): a little-endian `u32` version
//! (2), then 8-byte entries of `u16` tag, `u16` permissions and `u32` user or group ID.

use std::path::Path;

/// The attribute holding a file's access ACL.
pub const ACCESS_ACL_XATTR: &str = "system.posix_acl_access";

const VERSION: u32 = 2;
/// The owner (mirrors the mode's user bits).
pub const TAG_USER_OBJ: u16 = 0x01;
/// A named user.
pub const TAG_USER: u16 = 0x02;
/// The owning group.
pub const TAG_GROUP_OBJ: u16 = 0x04;
/// A named group.
pub const TAG_GROUP: u16 = 0x08;
/// The most any group-class entry grants (mirrored by the mode's group bits).
pub const TAG_MASK: u16 = 0x10;
/// Everyone else (mirrors the mode's other bits).
pub const TAG_OTHER: u16 = 0x20;
/// The write permission bit of an entry.
pub const PERM_WRITE: u16 = 0x02;

/// One ACL entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// One of the `TAG_*` values.
    pub tag: u16,
    /// rwx bits (4, 2, 1).
    pub perm: u16,
    /// The user or group ID of a named entry; unused (all ones) otherwise.
    pub id: u32,
}

/// Parses the attribute's value; `None` if it is not a version-2 ACL.
pub fn parse(bytes: &[u8]) -> Option<Vec<Entry>> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*head) != VERSION || rest.len() % 8 != 0 {
        return None;
    }
    Some(
        rest.chunks_exact(8)
            .map(|c| Entry {
                tag: u16::from_le_bytes([c[0], c[1]]),
                perm: u16::from_le_bytes([c[2], c[3]]),
                id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

/// Encodes entries as the attribute's value (for tests and tools that set an ACL).
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = VERSION.to_le_bytes().to_vec();
    for e in entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.perm.to_le_bytes());
        out.extend_from_slice(&e.id.to_le_bytes());
    }
    out
}

/// Who other than the owner and `other` may write, by the ACL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writer {
    /// A named user entry.
    User(u32),
    /// The owning group (its ACL entry, not the mode bits, which then show the mask).
    OwningGroup,
    /// A named group entry.
    Group(u32),
}

/// The group-class entries that grant write, as limited by the mask (POSIX.1e: a
/// group-class entry's permissions are effective only where the mask has them too).
pub fn writers(entries: &[Entry]) -> Vec<Writer> {
    let mask_writes = entries
        .iter()
        .find(|e| e.tag == TAG_MASK)
        .is_none_or(|m| m.perm & PERM_WRITE != 0);
    if !mask_writes {
        return Vec::new();
    }
    entries
        .iter()
        .filter(|e| e.perm & PERM_WRITE != 0)
        .filter_map(|e| match e.tag {
            TAG_USER => Some(Writer::User(e.id)),
            TAG_GROUP_OBJ => Some(Writer::OwningGroup),
            TAG_GROUP => Some(Writer::Group(e.id)),
            _ => None,
        })
        .collect()
}

/// Reads the access ACL of `path` (not following a final symbolic link). `Ok(None)`: the
/// file has none (its mode bits say everything), or the filesystem has no ACLs.
pub fn read(path: &Path) -> std::io::Result<Option<Vec<Entry>>> {
    // A link's own ACL means nothing; its target is checked as a path of its own.
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Ok(None);
    }
    match xattr::get(path, ACCESS_ACL_XATTR) {
        Ok(Some(bytes)) => parse(&bytes).map(Some).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{ACCESS_ACL_XATTR} is not a version-2 ACL"),
            )
        }),
        Ok(None) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(tag: u16, perm: u16, id: u32) -> Entry {
        Entry { tag, perm, id }
    }

    fn base(mask: Option<u16>) -> Vec<Entry> {
        let mut v = vec![
            e(TAG_USER_OBJ, 7, u32::MAX),
            e(TAG_GROUP_OBJ, 5, u32::MAX),
            e(TAG_OTHER, 5, u32::MAX),
        ];
        if let Some(m) = mask {
            v.push(e(TAG_MASK, m, u32::MAX));
        }
        v
    }

    #[test]
    fn entries_round_trip_and_garbage_is_refused() {
        let mut v = base(Some(7));
        v.push(e(TAG_USER, 6, 1000));
        assert_eq!(parse(&encode(&v)), Some(v));
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&[1, 0, 0, 0]), None);
        assert_eq!(parse(&[2, 0, 0, 0, 1]), None);
    }

    #[test]
    fn a_named_user_or_group_with_write_under_the_mask_is_a_writer() {
        let mut v = base(Some(7));
        v.push(e(TAG_USER, 6, 1000));
        v.push(e(TAG_GROUP, 2, 50));
        v.push(e(TAG_USER, 4, 1001));
        assert_eq!(writers(&v), vec![Writer::User(1000), Writer::Group(50)]);
    }

    #[test]
    fn the_mask_takes_write_away() {
        let mut v = base(Some(5));
        v.push(e(TAG_USER, 7, 1000));
        assert_eq!(writers(&v), vec![]);
    }

    #[test]
    fn the_owning_group_entry_counts_not_the_mode_bits() {
        let mut v = base(Some(7));
        v[1].perm = 7;
        assert_eq!(writers(&v), vec![Writer::OwningGroup]);
        assert_eq!(writers(&base(Some(7))), vec![]);
    }
}
