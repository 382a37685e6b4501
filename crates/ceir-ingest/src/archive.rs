//! The one data file a zip archive may hold (DIRBS's `extract_csv_from_zip`): exactly one member,
//! named as the archive with another extension, so that a second file or a misnamed one (another
//! operator's data, another period) is refused rather than guessed at.

use crate::error::IngestError;
use std::io::{Read, Seek};
use std::path::Path;

/// Whether these first bytes start a zip archive: a local file header, or the end of the central
/// directory that an empty archive is made of (refused for holding no file, not read as text).
pub(crate) fn is_zip(magic: &[u8]) -> bool {
    magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06")
}

/// A file name without its directory and its last extension: `a/x_1_2.csv` → `x_1_2`.
fn stem(name: &str) -> &str {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name);
    match base.rfind('.') {
        Some(i) if i > 0 => &base[..i],
        _ => base,
    }
}

/// The name of the archive's data file. `file` names the archive in errors and gives the name
/// the member must have. Directory entries and macOS's `__MACOSX/` metadata are not members.
pub(crate) fn single_member<R: Read + Seek>(
    archive: &zip::ZipArchive<R>,
    file: &str,
) -> Result<String, IngestError> {
    let refuse = |reason: String| IngestError::Zip {
        file: file.to_owned(),
        reason,
    };
    let members: Vec<&str> = archive
        .file_names()
        .filter(|n| !n.ends_with('/') && !n.starts_with("__MACOSX/"))
        .collect();
    let member = match members.as_slice() {
        [] => return Err(refuse("the archive holds no file".into())),
        [one] => (*one).to_owned(),
        many => {
            let mut names: Vec<&str> = many.to_vec();
            names.sort_unstable();
            return Err(refuse(format!(
                "the archive holds {} files ({}); it must hold exactly one, the data file",
                names.len(),
                names.join(", ")
            )));
        }
    };
    let want = stem(file);
    if stem(&member) != want {
        return Err(refuse(format!(
            "the archive's file is named {member:?}; it must be named as the archive, \
             {want}.<extension>"
        )));
    }
    Ok(member)
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn stems_drop_the_directory_and_the_last_extension() {
        assert_eq!(
            stem("dir/azercell_20261001_20261031.zip"),
            "azercell_20261001_20261031"
        );
        assert_eq!(stem("stolen.csv"), "stolen");
        assert_eq!(stem("x.csv.zip"), "x.csv");
        assert_eq!(stem(".hidden"), ".hidden");
        assert_eq!(stem("plain"), "plain");
    }
}
