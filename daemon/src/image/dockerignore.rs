//! `.dockerignore`, applied as Docker applies it: each line a pattern (after trimming, `#`
//! lines and blank ones skipped), cleaned as Go's `filepath.Clean` cleans it with a leading `/`
//! dropped; `!` makes an exception; a pattern matches a path when it matches the path or any
//! of its parent directories; the last matching line decides. Globs are Go's `filepath.Match`
//! (`*` and `?` stop at `/`, `[...]` classes, `\` escapes) plus `**`, any number of
//! directories — translated to regular expressions as Docker's own matcher does.

use regex::Regex;

use super::ImageError;

pub struct IgnoreRules {
    rules: Vec<(Regex, bool)>,
}

impl IgnoreRules {
    pub fn parse(text: &str, file: &str) -> Result<IgnoreRules, ImageError> {
        let mut rules = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(pattern);
            if cleaned.is_empty() {
                if exception {
                    return Err(ImageError::Usage(format!("{file}:{}: `!` excepts nothing", number + 1)));
                }
                continue;
            }
            let regex = translate(&cleaned)
                .and_then(|source| Regex::new(&source).map_err(|error| error.to_string()))
                .map_err(|why| ImageError::Usage(format!("{file}:{}: `{line}`: {why}", number + 1)))?;
            rules.push((regex, exception));
        }
        Ok(IgnoreRules { rules })
    }

    /// Whether `path` (relative to the context's root, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (regex, exception) in &self.rules {
            let mut candidates = vec![path.to_string()];
            let mut parent = path;
            while let Some((up, _)) = parent.rsplit_once('/') {
                candidates.push(up.to_string());
                parent = up;
            }
            if candidates.iter().any(|candidate| regex.is_match(candidate)) {
                excluded = !exception;
            }
        }
        excluded
    }
}

/// Go's `filepath.Clean`, without a leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A pattern as a regular expression over a whole path.
fn translate(pattern: &str) -> Result<String, String> {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        match c {
            '*' if chars.get(at + 1) == Some(&'*') => {
                at += 1;
                if chars.get(at + 1) == Some(&'/') {
                    // `**/`: any number of directories, none included.
                    at += 1;
                    out.push_str("(.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => {
                at += 1;
                let escaped = chars.get(at).ok_or("it ends with `\\`")?;
                out.push_str(&regex::escape(&escaped.to_string()));
            }
            '[' => {
                let mut class = String::from("[");
                at += 1;
                if chars.get(at) == Some(&'^') {
                    class.push('^');
                    at += 1;
                }
                let mut closed = false;
                while at < chars.len() {
                    match chars[at] {
                        ']' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            at += 1;
                            let escaped = chars.get(at).ok_or("a class ends with `\\`")?;
                            class.push_str(&regex::escape(&escaped.to_string()));
                        }
                        '[' => class.push_str("\\["),
                        other => class.push(other),
                    }
                    at += 1;
                }
                if !closed {
                    return Err("a `[` is never closed".to_string());
                }
                class.push(']');
                out.push_str(&class);
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        at += 1;
    }
    out.push('$');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rules: &str, cases: &[(&str, bool)]) {
        let parsed = IgnoreRules::parse(rules, ".dockerignore").unwrap();
        for (path, excluded) in cases {
            assert_eq!(parsed.excludes(path), *excluded, "{rules:?} on {path}");
        }
    }

    #[test]
    fn patterns_match_as_docker_matches_them() {
        check(
            "# comment\n*/temp*\n*/*/temp*\ntemp?\n",
            &[
                ("somedir/temporary.txt", true),
                ("somedir/temp", true),
                ("somedir/subdir/temporary.txt", true),
                ("tempa", true),
                ("temp", false),
                ("temporary.txt", false),
            ],
        );
        check(
            "*.md\n!README*.md\nREADME-secret.md\n",
            &[("notes.md", true), ("README.md", false), ("README-secret.md", true)],
        );
        check(
            "*.md\nREADME-secret.md\n!README*.md\n",
            &[("README-secret.md", false), ("other.md", true)],
        );
        // A directory excludes what is in it; `**` crosses directories; a leading `/` and
        // `./` mean the root.
        check(
            "node_modules\n**/*.pyc\n/build/\n./.git\n",
            &[
                ("node_modules/x/index.js", true),
                ("src/node_modules", false),
                ("a/b/c.pyc", true),
                ("c.pyc", true),
                ("build/out.bin", true),
                (".git/config", true),
                ("src/app.py", false),
            ],
        );
    }

    #[test]
    fn bad_lines_are_named() {
        let error = IgnoreRules::parse("ok\n[abc\n", ".dockerignore").err().unwrap();
        assert!(error.to_string().contains(".dockerignore:2"), "{error}");
        assert!(IgnoreRules::parse("!\n", ".dockerignore").is_err());
    }
}
