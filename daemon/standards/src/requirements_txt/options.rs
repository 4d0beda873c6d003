//! The options a requirement file may carry (`-r`, `-c`, `-e`, `-i`, `--hash`, ...), parsed
//! from a line's words as pip's option parser reads them.

use super::{BinarySet, LineProblem};
use crate::requirement::package_name;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Opt {
    IndexUrl,
    ExtraIndexUrl,
    NoIndex,
    Constraint,
    Requirement,
    Editable,
    FindLinks,
    NoBinary,
    OnlyBinary,
    PreferBinary,
    RequireHashes,
    Pre,
    TrustedHost,
    UseFeature,
    Hash,
    ConfigSettings,
    GlobalOption,
    InstallOption,
}

impl Opt {
    pub(super) fn long(self) -> &'static str {
        match self {
            Self::IndexUrl => "--index-url",
            Self::ExtraIndexUrl => "--extra-index-url",
            Self::NoIndex => "--no-index",
            Self::Constraint => "--constraint",
            Self::Requirement => "--requirement",
            Self::Editable => "--editable",
            Self::FindLinks => "--find-links",
            Self::NoBinary => "--no-binary",
            Self::OnlyBinary => "--only-binary",
            Self::PreferBinary => "--prefer-binary",
            Self::RequireHashes => "--require-hashes",
            Self::Pre => "--pre",
            Self::TrustedHost => "--trusted-host",
            Self::UseFeature => "--use-feature",
            Self::Hash => "--hash",
            Self::ConfigSettings => "--config-settings",
            Self::GlobalOption => "--global-option",
            Self::InstallOption => "--install-option",
        }
    }

    pub(super) fn short(self) -> Option<char> {
        match self {
            Self::IndexUrl => Some('i'),
            Self::Constraint => Some('c'),
            Self::Requirement => Some('r'),
            Self::Editable => Some('e'),
            Self::FindLinks => Some('f'),
            _ => None,
        }
    }

    pub(super) fn takes_value(self) -> bool {
        !matches!(
            self,
            Self::NoIndex | Self::PreferBinary | Self::RequireHashes | Self::Pre
        )
    }
}

/// Every option pip accepts in a requirement file, supported or not, so that an unsupported
/// one is reported as such rather than as unknown.
pub(super) const OPTIONS: [Opt; 18] = [
    Opt::IndexUrl,
    Opt::ExtraIndexUrl,
    Opt::NoIndex,
    Opt::Constraint,
    Opt::Requirement,
    Opt::Editable,
    Opt::FindLinks,
    Opt::NoBinary,
    Opt::OnlyBinary,
    Opt::PreferBinary,
    Opt::RequireHashes,
    Opt::Pre,
    Opt::TrustedHost,
    Opt::UseFeature,
    Opt::Hash,
    Opt::ConfigSettings,
    Opt::GlobalOption,
    Opt::InstallOption,
];

/// optparse's rules: `--long=value`, `--long value`, `-xvalue`, `-x value`, and unambiguous
/// prefixes of long options (`--extra-index` for `--extra-index-url`).
pub(super) fn parse_options(tokens: &[String]) -> Result<Vec<(Opt, Option<String>)>, LineProblem> {
    let mut parsed = Vec::new();
    let mut tokens = tokens.iter();
    while let Some(token) = tokens.next() {
        let (opt, inline_value) = if let Some(long) = token.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            (find_long(&format!("--{name}"))?, value)
        } else if let Some(short) = token.strip_prefix('-') {
            let mut chars = short.chars();
            let letter = chars.next();
            let opt = OPTIONS
                .into_iter()
                .find(|opt| opt.short().is_some() && opt.short() == letter)
                .ok_or_else(|| LineProblem::UnknownOption(token.clone()))?;
            let rest = chars.as_str();
            (opt, (!rest.is_empty()).then(|| rest.to_string()))
        } else {
            return Err(LineProblem::StrayArgument(token.clone()));
        };
        let value = match (opt.takes_value(), inline_value) {
            (true, Some(value)) => Some(value),
            (true, None) => Some(
                tokens
                    .next()
                    .cloned()
                    .ok_or_else(|| LineProblem::MissingValue(opt.long().to_string()))?,
            ),
            (false, Some(_)) => return Err(LineProblem::UnexpectedValue(opt.long().to_string())),
            (false, None) => None,
        };
        parsed.push((opt, value));
    }
    Ok(parsed)
}

pub(super) fn find_long(name: &str) -> Result<Opt, LineProblem> {
    if let Some(opt) = OPTIONS.into_iter().find(|opt| opt.long() == name) {
        return Ok(opt);
    }
    let candidates: Vec<Opt> = OPTIONS
        .into_iter()
        .filter(|opt| opt.long().starts_with(name) && name.len() > 2)
        .collect();
    match candidates.as_slice() {
        [opt] => Ok(*opt),
        [] => Err(LineProblem::UnknownOption(name.to_string())),
        many => Err(LineProblem::AmbiguousOption(
            name.to_string(),
            many.iter()
                .map(|opt| format!("`{}`", opt.long()))
                .collect::<Vec<_>>()
                .join(" or "),
        )),
    }
}

/// `--hash=algorithm:hexdigest`, with pip's choice of algorithms.
pub(super) fn parse_hash(value: &str) -> Result<String, LineProblem> {
    let invalid = |reason: &str| LineProblem::InvalidHash(format!("`{value}` {reason}"));
    let (algorithm, digest) = value
        .split_once(':')
        .ok_or_else(|| invalid("is not `algorithm:digest`, as in `--hash=sha256:...`"))?;
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(invalid(
                "uses an algorithm pip does not accept: use sha256, sha384 or sha512",
            ));
        }
    };
    if digest.len() != length || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(&format!(
            "is not a {algorithm} digest: expected {length} hexadecimal digits"
        )));
    }
    Ok(format!("{algorithm}:{}", digest.to_ascii_lowercase()))
}

/// pip's `FormatControl.handle_mutual_excludes`: names go into `target` and out of `other`,
/// `:all:` empties both and sets `target` to everything, `:none:` empties `target`.
/// Applies one `--only-binary`/`--no-binary` value (`:all:`, `:none:`, comma-separated names)
/// to `target`, taking what it names out of `other`, as pip does.
pub fn apply_binary_option(value: &str, target: &mut BinarySet, other: &mut BinarySet) -> Result<(), String> {
    update_binary_sets(value, target, other).map_err(|problem| problem.to_string())
}

pub(super) fn update_binary_sets(
    value: &str,
    target: &mut BinarySet,
    other: &mut BinarySet,
) -> Result<(), LineProblem> {
    for item in value.split(',') {
        match item {
            ":all:" => {
                other.clear();
                target.clear();
                target.all = true;
            }
            ":none:" => target.clear(),
            name => {
                let name = package_name(name).map_err(|err| LineProblem::InvalidValue {
                    what: "package name",
                    value: name.to_string(),
                    reason: err.to_string(),
                })?;
                other.packages.remove(&name);
                target.packages.insert(name);
            }
        }
    }
    Ok(())
}
