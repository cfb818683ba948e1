//! `fdfs install-links DIR`: one symlink per C tool name, pointing at this `fdfs`.

use std::path::{Path, PathBuf};

/// Creates DIR/<tool> -> fdfs for every tool. The target is `fdfs` when this executable lives
/// in DIR (so the directory can move), else its absolute path. An existing symlink is replaced
/// atomically (new link, then rename); anything else there (a real C tool, say) is left alone
/// and reported, unless `force`.
pub fn install(dir: &Path, force: bool) -> Result<Vec<PathBuf>, String> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot find the fdfs executable: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let real_dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    let target = match (exe.parent(), exe.file_name()) {
        (Some(p), Some(name)) if p == real_dir => PathBuf::from(name),
        _ => exe.clone(),
    };
    let mut made = Vec::new();
    let mut refused = Vec::new();
    for (name, _) in super::TOOLS {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(m) if !m.file_type().is_symlink() && !force => {
                refused.push(link.display().to_string());
                continue;
            }
            _ => {}
        }
        let tmp = dir.join(format!(".{name}.fdfs-link-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)
            .and_then(|()| std::fs::rename(&tmp, &link))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("cannot create symlink {}: {e}", link.display())
            })?;
        made.push(link);
    }
    if refused.is_empty() {
        Ok(made)
    } else {
        Err(format!(
            "not a symlink, left alone (pass --force to replace): {}",
            refused.join(", ")
        ))
    }
}
