//! The subset of Go's regular expressions that priority-expander
//! configurations use for node group ids: literals, `.`, `*` after an atom,
//! `\` escapes, and `^` / `$` anchors. Like Go's `FindStringIndex`, a pattern
//! matches anywhere in the id unless anchored. Anything else (classes,
//! groups, alternation, other repetitions) is rejected rather than misread.

/// One compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPattern {
    items: Vec<Item>,
    anchored_start: bool,
    anchored_end: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Atom {
    Any,
    Char(char),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Item {
    atom: Atom,
    repeated: bool,
}

/// A pattern outside the supported subset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern {pattern:?}: unsupported syntax {found:?}")]
    Unsupported { pattern: String, found: char },
    #[error("pattern {pattern:?}: `*` has nothing to repeat")]
    NothingToRepeat { pattern: String },
    #[error("pattern {pattern:?}: trailing `\\`")]
    TrailingEscape { pattern: String },
}

impl Atom {
    fn matches(self, c: char) -> bool {
        match self {
            Atom::Any => c != '\n',
            Atom::Char(want) => c == want,
        }
    }
}

impl GroupPattern {
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let mut chars = pattern.chars().peekable();
        let anchored_start = chars.next_if_eq(&'^').is_some();
        let mut items: Vec<Item> = Vec::new();
        let mut anchored_end = false;
        while let Some(c) = chars.next() {
            if anchored_end {
                // `$` is only supported as the last character.
                return Err(unsupported(pattern, '$'));
            }
            let atom = match c {
                '.' => Atom::Any,
                '\\' => match chars.next() {
                    Some(escaped) if !escaped.is_alphanumeric() => Atom::Char(escaped),
                    Some(escaped) => return Err(unsupported(pattern, escaped)),
                    None => {
                        return Err(PatternError::TrailingEscape {
                            pattern: pattern.to_string(),
                        })
                    }
                },
                '*' => {
                    return Err(PatternError::NothingToRepeat {
                        pattern: pattern.to_string(),
                    })
                }
                '$' => {
                    anchored_end = true;
                    continue;
                }
                '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' => {
                    return Err(unsupported(pattern, c))
                }
                c => Atom::Char(c),
            };
            let repeated = chars.next_if_eq(&'*').is_some();
            items.push(Item { atom, repeated });
        }
        Ok(GroupPattern {
            items,
            anchored_start,
            anchored_end,
        })
    }

    /// True when the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        if self.anchored_start {
            return self.match_here(&self.items, &chars);
        }
        (0..=chars.len()).any(|start| self.match_here(&self.items, &chars[start..]))
    }

    fn match_here(&self, items: &[Item], text: &[char]) -> bool {
        let Some((item, rest)) = items.split_first() else {
            return !self.anchored_end || text.is_empty();
        };
        if !item.repeated {
            return text.first().is_some_and(|&c| item.atom.matches(c))
                && self.match_here(rest, &text[1..]);
        }
        let mut taken = 0;
        loop {
            if self.match_here(rest, &text[taken..]) {
                return true;
            }
            match text.get(taken) {
                Some(&c) if item.atom.matches(c) => taken += 1,
                _ => return false,
            }
        }
    }
}

fn unsupported(pattern: &str, found: char) -> PatternError {
    PatternError::Unsupported {
        pattern: pattern.to_string(),
        found,
    }
}
