//! Why there is no solution, in plain words: which requirement needs what,
//! down the chain, with versions written as PEP 440 specifiers.

use std::ops::Bound;

use axle_standards::Version;
use pubgrub::{DefaultStringReporter, DerivationTree, Derived, External, Map, Ranges, ReportFormatter, Reporter, Term};

use super::package::PubPackage;

type Range = Ranges<Version>;
type Tree = DerivationTree<PubPackage, Range, String>;

pub fn explain(tree: &Tree) -> String {
    let text = DefaultStringReporter::report_with_formatter(tree, &Plain);
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
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

struct Plain;

impl Plain {
    fn terms(&self, terms: &Map<PubPackage, Term<Range>>) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "no set of versions works".to_string(),
            [(PubPackage::Root, Term::Positive(_))] => "your requirements cannot be satisfied".to_string(),
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
            External::NoVersions(package, range) if range == &Range::full() => {
                format!("no version of {package} is available")
            }
            External::NoVersions(package, range) => {
                format!("no version of {package} matches {}", specifier_text(range))
            }
            External::FromDependencyOf(PubPackage::Root, _, dependency, range) => {
                format!("you require {}", package_with(dependency, range))
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

impl ReportFormatter<PubPackage, Range, String> for Plain {
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
