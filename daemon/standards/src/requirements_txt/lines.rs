//! The lexical layer of a requirement file: logical lines (comments stripped, `\\`
//! continuations joined), `${NAME}` variables, and a line split into its requirement and its
//! options, as pip splits them (`shlex`).

use std::collections::HashMap;

use super::LineProblem;
use crate::requirement::{first_variable, is_variable_name};

/// Join `\`-continued lines, numbering each logical line by its first physical line.
pub(super) fn logical_lines(content: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in content.lines().enumerate() {
        let number = index + 1;
        // A backslash inside a comment does not continue the line.
        if line.ends_with('\\') && !has_comment(line) {
            let piece = line.trim_end_matches('\\');
            match &mut pending {
                Some((_, joined)) => joined.push_str(piece),
                None => pending = Some((number, piece.to_string())),
            }
            continue;
        }
        match pending.take() {
            Some((start, mut joined)) => {
                // The space keeps a comment that ends a continuation a comment.
                if has_comment(line) {
                    joined.push(' ');
                }
                joined.push_str(line);
                out.push((start, joined));
            }
            None => out.push((number, line.to_string())),
        }
    }
    out.extend(pending);
    out
}

/// The byte offset of a comment: `#` at the start or after whitespace (so not in `url#frag`).
pub(super) fn comment_start(line: &str) -> Option<usize> {
    line.char_indices().find_map(|(i, c)| {
        let starts_comment = c == '#' && (i == 0 || line[..i].ends_with(|p: char| p.is_whitespace()));
        starts_comment.then_some(i)
    })
}

pub(super) fn has_comment(line: &str) -> bool {
    comment_start(line).is_some()
}

pub(super) fn strip_comment(line: &str) -> &str {
    comment_start(line).map_or(line, |i| &line[..i])
}

/// Replace `${NAME}` with the caller's values; an unset name is an error.
///
/// Also returns what was substituted, so messages can put the names back in place of values.
pub(super) fn expand_variables(
    line: &str,
    env: &HashMap<String, String>,
) -> Result<(String, Vec<(String, String)>), LineProblem> {
    let mut substituted = Vec::new();
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}').filter(|&end| is_variable_name(&after[..end])) else {
            out.push_str(&rest[..start + 2]);
            rest = after;
            continue;
        };
        let name = &after[..end];
        let value = env
            .get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| LineProblem::UndefinedVariable(name.to_string()))?;
        out.push_str(&rest[..start]);
        out.push_str(value);
        substituted.push((name.to_string(), value.clone()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    // A value that itself holds `${OTHER}` is not expanded again (pip expands once); leaving
    // it for pep508_rs would read the process environment.
    if let Some(name) = first_variable(&out) {
        return Err(LineProblem::UndefinedVariable(name.to_string()));
    }
    Ok((out, substituted))
}

/// pip's `break_args_options`: the requirement is everything before the first word that starts
/// with `-`; the rest are options.
pub(super) fn split_args_options(line: &str) -> (&str, &str) {
    let mut offset = 0;
    for word in line.split_inclusive(char::is_whitespace) {
        if word.starts_with('-') {
            return (line[..offset].trim(), &line[offset..]);
        }
        offset += word.len();
    }
    (line.trim(), "")
}

/// `-e target ; marker`: the editable's options and its marker (after a `;` that follows
/// whitespace outside quotes, as a URL may hold a `;`); other lines are left whole.
pub(super) fn split_editable_marker(options: &str) -> (&str, Option<&str>) {
    let trimmed = options.trim_start();
    if !(trimmed.starts_with("-e") || trimmed.starts_with("--editable")) {
        return (options, None);
    }
    match marker_start(options, true) {
        Some(index) => {
            let marker = options[index + 1..].trim();
            (&options[..index], (!marker.is_empty()).then_some(marker))
        }
        None => (options, None),
    }
}

/// Where the `;` before a marker is: the first outside quotes, or, when `after_space` (a URL
/// may contain `;`), the first that follows whitespace.
pub(super) fn marker_start(text: &str, after_space: bool) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (index, c) in text.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ';') if !after_space || previous.is_whitespace() => return Some(index),
            _ => {}
        }
        previous = c;
    }
    None
}

/// POSIX `shlex.split`, which pip applies to the option part of a line.
pub(super) fn shell_split(s: &str) -> Result<Vec<String>, LineProblem> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(LineProblem::UnclosedQuote),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err(LineProblem::UnclosedQuote),
                        },
                        Some(c) => current.push(c),
                        None => return Err(LineProblem::UnclosedQuote),
                    }
                }
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    word.get_or_insert_with(String::new).push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}
