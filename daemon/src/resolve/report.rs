//! Why there is no solution, in plain words: which requirement needs what, down the chain,
//! with versions written as PEP 440 specifiers, each root requirement with where it is written
//! (file and line), and — where a package offers nothing usable — why, and what to do
//! (`unavailable`).

use std::cell::RefCell;
use std::ops::Bound;
use std::sync::Arc;

use axle_standards::{PackageName, Version};
use pubgrub::{DefaultStringReporter, DerivationTree, Derived, External, Map, Ranges, ReportFormatter, Reporter, Term};

use super::package::PubPackage;
use super::unavailable::Why;

type Range = Ranges<Version>;
type Tree = DerivationTree<PubPackage, Range, String>;

/// What the report asks of the resolution it explains.
pub(super) trait Context {
    /// Where the root requirements on `name` are written (`requirements.in, line 3`).
    fn origins(&self, name: &PackageName) -> Vec<String>;
    /// Why no version of `name` in `range` can be used, when it is for a reason of its own.
    fn why_none(&self, name: &PackageName, range: &Range) -> Option<Why>;
}

pub(super) fn explain(mut tree: Tree, context: &dyn Context) -> String {
    // A package's "no versions" is folded into what required it (as PubGrub's own collapse
    // does) unless there is something to say about it: a range the solver was left with after
    // refusing versions one by one says nothing a reader wants.
    collapse_no_versions(&mut tree, &|package, range| {
        package_name(package).is_some_and(|name| context.why_none(name, range).is_some())
    });
    let plain = Plain {
        context,
        advice: RefCell::new(Vec::new()),
    };
    let text = DefaultStringReporter::report_with_formatter(&tree, &plain);
    let mut lines: Vec<String> = text.lines().map(|line| format!("  {line}")).collect();
    // What to do, once each, after the story: inside it, advice would break its sentences.
    let mut advice = plain.advice.into_inner();
    advice.dedup();
    lines.extend(advice.iter().map(|advice| format!("  hint: {advice}")));
    lines.join("\n")
}

/// The package whose releases `package` stands for (an extra's proxy stands for its package's).
fn package_name(package: &PubPackage) -> Option<&PackageName> {
    match package {
        PubPackage::Package { name, .. } => Some(name),
        PubPackage::Root | PubPackage::ExtraRequirements { .. } => None,
    }
}

/// PubGrub's `collapse_no_versions`, keeping the "no versions" that `keep` accepts.
fn collapse_no_versions(tree: &mut Tree, keep: &dyn Fn(&PubPackage, &Range) -> bool) {
    let DerivationTree::Derived(derived) = tree else {
        return;
    };
    let no_versions = |cause: &Tree| match cause {
        DerivationTree::External(External::NoVersions(package, range)) if !keep(package, range) => {
            Some((package.clone(), range.clone()))
        }
        _ => None,
    };
    let collapsed = if let Some((package, range)) = no_versions(&derived.cause1) {
        collapse_no_versions(Arc::make_mut(&mut derived.cause2), keep);
        merge_no_versions((*derived.cause2).clone(), &package, &range)
    } else if let Some((package, range)) = no_versions(&derived.cause2) {
        collapse_no_versions(Arc::make_mut(&mut derived.cause1), keep);
        merge_no_versions((*derived.cause1).clone(), &package, &range)
    } else {
        collapse_no_versions(Arc::make_mut(&mut derived.cause1), keep);
        collapse_no_versions(Arc::make_mut(&mut derived.cause2), keep);
        None
    };
    if let Some(collapsed) = collapsed {
        *tree = collapsed;
    }
}

/// `tree` with `range` of `package` (which has no versions) added to its dependency, when it
/// is one; `None` when it cannot take it.
fn merge_no_versions(tree: Tree, package: &PubPackage, range: &Range) -> Option<Tree> {
    match tree {
        DerivationTree::Derived(_) => Some(tree),
        DerivationTree::External(External::FromDependencyOf(p1, r1, p2, r2)) => {
            Some(DerivationTree::External(if p1 == *package {
                External::FromDependencyOf(p1, r1.union(range), p2, r2)
            } else {
                External::FromDependencyOf(p1, r1, p2, r2.union(range))
            }))
        }
        DerivationTree::External(_) => None,
    }
}

/// `>=1.0, <2.0`, `==1.0`, `>=1.0, <2.0 or >=3.0`.
pub fn specifier_text(range: &Range) -> String {
    if range == &Range::full() {
        return "any version".to_string();
    }
    if range == &Range::empty() {
        return "no version".to_string();
    }
    let segments: Vec<String> = range
        .iter()
        .map(|(low, high)| match (low, high) {
            (Bound::Included(a), Bound::Included(b)) if a == b => format!("=={a}"),
            (low, high) => {
                let mut parts = Vec::new();
                match low {
                    Bound::Included(version) => parts.push(format!(">={version}")),
                    Bound::Excluded(version) => parts.push(format!(">{version}")),
                    Bound::Unbounded => {}
                }
                match high {
                    Bound::Included(version) => parts.push(format!("<={version}")),
                    Bound::Excluded(version) => parts.push(format!("<{version}")),
                    Bound::Unbounded => {}
                }
                parts.join(", ")
            }
        })
        .collect();
    segments.join(" or ")
}

fn package_with(package: &PubPackage, range: &Range) -> String {
    match package {
        PubPackage::Root => package.to_string(),
        _ if range == &Range::full() => package.to_string(),
        _ => format!("{package} {}", specifier_text(range)),
    }
}

struct Plain<'a> {
    context: &'a dyn Context,
    /// What to do, gathered as the reasons are told.
    advice: RefCell<Vec<String>>,
}

impl Plain<'_> {
    /// `(requirements.in, line 3)`, or nothing when the origin is unknown.
    fn origins(&self, package: &PubPackage) -> String {
        let origins = package_name(package)
            .map(|name| self.context.origins(name))
            .unwrap_or_default();
        if origins.is_empty() {
            return String::new();
        }
        format!(" ({})", origins.join("; "))
    }

    /// The reason a package has no usable version in `range`, if there is one to give; what to
    /// do about it is kept for the end.
    fn why_none(&self, package: &PubPackage, range: &Range) -> Option<String> {
        let why = self.context.why_none(package_name(package)?, range)?;
        let mut advice = self.advice.borrow_mut();
        if let Some(what) = why.advice
            && !advice.contains(&what)
        {
            advice.push(what);
        }
        Some(why.fact)
    }

    fn terms(&self, terms: &Map<PubPackage, Term<Range>>) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "no set of versions works".to_string(),
            [(PubPackage::Root, Term::Positive(_))] => "your requirements cannot be satisfied".to_string(),
            [(PubPackage::Root, Term::Positive(_)), (package, Term::Positive(range))]
            | [(package, Term::Positive(range)), (PubPackage::Root, Term::Positive(_))] => {
                format!("{} cannot be used with your requirements", package_with(package, range))
            }
            [(package, Term::Positive(range))] => {
                format!("{} cannot be used", package_with(package, range))
            }
            [(package, Term::Negative(range))] => {
                format!("{} is required", package_with(package, range))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => self.external(&External::FromDependencyOf(
                (*p1).clone(),
                r1.clone(),
                (*p2).clone(),
                r2.clone(),
            )),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|(package, term)| match term {
                        Term::Positive(range) => package_with(package, range),
                        Term::Negative(range) => format!("not {}", package_with(package, range)),
                    })
                    .collect();
                format!("{} cannot be used together", parts.join(", "))
            }
        }
    }

    fn external(&self, external: &External<PubPackage, Range, String>) -> String {
        match external {
            External::NotRoot(..) => "you asked to resolve your requirements".to_string(),
            External::NoVersions(package, range) => match self.why_none(package, range) {
                Some(why) => why,
                None if range == &Range::full() => format!("no version of {package} is available"),
                None => format!("no version of {package} matches {}", specifier_text(range)),
            },
            External::FromDependencyOf(PubPackage::Root, _, dependency, range) => {
                format!(
                    "you require {}{}",
                    package_with(dependency, range),
                    self.origins(dependency)
                )
            }
            External::FromDependencyOf(package, range, dependency, dependency_range) => format!(
                "{} requires {}",
                package_with(package, range),
                package_with(dependency, dependency_range)
            ),
            External::Custom(package, range, reason) => {
                format!("{} {reason}", package_with(package, range))
            }
        }
    }
}

impl ReportFormatter<PubPackage, Range, String> for Plain<'_> {
    type Output = String;

    fn format_external(&self, external: &External<PubPackage, Range, String>) -> String {
        self.external(external)
    }

    fn format_terms(&self, terms: &Map<PubPackage, Term<Range>>) -> String {
        self.terms(terms)
    }

    fn explain_both_external(
        &self,
        first: &External<PubPackage, Range, String>,
        second: &External<PubPackage, Range, String>,
        current: &Map<PubPackage, Term<Range>>,
    ) -> String {
        // The whole story in one: a root requirement that nothing on the sources meets.
        if let (External::FromDependencyOf(PubPackage::Root, _, required, range), External::NoVersions(package, _))
        | (External::NoVersions(package, _), External::FromDependencyOf(PubPackage::Root, _, required, range)) =
            (first, second)
            && required == package
            && let Some(why) = package_name(package).and_then(|name| self.context.why_none(name, range))
        {
            // Its advice belongs right after it.
            let advice = why.advice.map(|advice| format!("; {advice}")).unwrap_or_default();
            let stop = if advice.ends_with('?') { "" } else { "." };
            return format!(
                "You require {}{}, but {}{advice}{stop}",
                package_with(required, range),
                self.origins(required),
                why.fact
            );
        }
        format!(
            "Because {} and {}, {}.",
            self.external(first),
            self.external(second),
            self.terms(current)
        )
    }

    fn explain_both_ref(
        &self,
        first_id: usize,
        first: &Derived<PubPackage, Range, String>,
        second_id: usize,
        second: &Derived<PubPackage, Range, String>,
        current: &Map<PubPackage, Term<Range>>,
    ) -> String {
        format!(
            "Because {} ({first_id}) and {} ({second_id}), {}.",
            self.terms(&first.terms),
            self.terms(&second.terms),
            self.terms(current)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        derived: &Derived<PubPackage, Range, String>,
        external: &External<PubPackage, Range, String>,
        current: &Map<PubPackage, Term<Range>>,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.terms(&derived.terms),
            self.external(external),
            self.terms(current)
        )
    }

    fn and_explain_external(
        &self,
        external: &External<PubPackage, Range, String>,
        current: &Map<PubPackage, Term<Range>>,
    ) -> String {
        format!("And because {}, {}.", self.external(external), self.terms(current))
    }

    fn and_explain_ref(
        &self,
        id: usize,
        derived: &Derived<PubPackage, Range, String>,
        current: &Map<PubPackage, Term<Range>>,
    ) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.terms(&derived.terms),
            self.terms(current)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior: &External<PubPackage, Range, String>,
        external: &External<PubPackage, Range, String>,
        current: &Map<PubPackage, Term<Range>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.external(prior),
            self.external(external),
            self.terms(current)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn version(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    #[test]
    fn ranges_read_as_specifiers() {
        let cases = [
            (Range::full(), "any version"),
            (Range::singleton(version("1.0")), "==1.0"),
            (Range::from_range_bounds(version("1.0")..version("2.0")), ">=1.0, <2.0"),
            (Range::higher_than(version("3")), ">=3"),
            (
                Range::strictly_lower_than(version("1")).union(&Range::higher_than(version("2"))),
                "<1 or >=2",
            ),
        ];
        for (range, expected) in cases {
            assert_eq!(specifier_text(&range), expected);
        }
    }
}
