//! Where an environment keeps each kind of installed file: the install scheme paths (as Python's
//! `sysconfig` reports them for a virtual environment) and its interpreter.

use std::io;
use std::path::{Path, PathBuf};

use axle_standards::PackageName;

use crate::wheel::Scheme;

/// An environment's install scheme. All paths absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub purelib: PathBuf,
    pub platlib: PathBuf,
    pub scripts: PathBuf,
    pub data: PathBuf,
    /// The headers base: a distribution's headers go to `headers/<normalised name>/`, as
    /// pip's `include/site/pythonX.Y/<name>` scheme does.
    pub headers: PathBuf,
    /// The interpreter scripts and launchers run with (written into their `#!` lines).
    pub python: PathBuf,
}

impl Layout {
    /// The POSIX virtual environment at `root` for Python `major.minor`:
    /// `lib/pythonX.Y/site-packages` (purelib and platlib), `bin`, `include/site/pythonX.Y`,
    /// data at the root, and `bin/python`. `root` is made absolute.
    pub fn for_venv(root: &Path, python: (u32, u32)) -> io::Result<Layout> {
        let root = std::path::absolute(root)?;
        let (major, minor) = python;
        let site_packages = root
            .join("lib")
            .join(format!("python{major}.{minor}"))
            .join("site-packages");
        Ok(Layout {
            purelib: site_packages.clone(),
            platlib: site_packages,
            scripts: root.join("bin"),
            data: root.clone(),
            headers: root.join("include").join("site").join(format!("python{major}.{minor}")),
            python: root.join("bin").join("python"),
        })
    }

    /// The directory a scheme's files go to, for distribution `name`.
    pub fn scheme_dir(&self, scheme: Scheme, name: &PackageName) -> PathBuf {
        match scheme {
            Scheme::Purelib => self.purelib.clone(),
            Scheme::Platlib => self.platlib.clone(),
            Scheme::Scripts => self.scripts.clone(),
            Scheme::Data => self.data.clone(),
            Scheme::Headers => self.headers.join(name.as_ref()),
        }
    }

    /// Where the `.dist-info` directory goes: the wheel's root scheme, whose directory is also
    /// what RECORD paths are relative to (the wheel spec's "base location").
    pub fn root_dir(&self, root_is_purelib: bool) -> &Path {
        if root_is_purelib { &self.purelib } else { &self.platlib }
    }
}
