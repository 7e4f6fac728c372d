//! A fault put into C on purpose, to prove that the checksums of every repetition
//! (`verify::LineChecker`) catch it and say where. A test-only path: set
//! `MATBENCH_INJECT_FAULT=REP:KIND:ROW:COL` and repetition REP (from 1, warm-ups included) gets
//! C[ROW, COL] zeroed (`zero`) or doubled (`double`), or the 64×64 tile from there zeroed
//! (`tile`), after its product and before its sums. The record says a fault was injected, so
//! such a run is never taken for a real one.

use crate::error::Error;

/// The environment variable that asks for a fault.
pub const VAR: &str = "MATBENCH_INJECT_FAULT";

/// Side of the tile `tile` zeroes.
pub const TILE: usize = 64;

/// What to do to C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// C[row, col] = 0.
    Zero,
    /// C[row, col] doubled.
    Double,
    /// The [`TILE`]×[`TILE`] block from C[row, col] zeroed (clipped to C).
    Tile,
}

/// A fault: which repetition, what, where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Repetition, from 1, warm-ups included.
    pub repetition: u32,
    /// What is done.
    pub kind: Kind,
    /// Row of C.
    pub row: usize,
    /// Column of C.
    pub col: usize,
}

impl Fault {
    /// The fault `MATBENCH_INJECT_FAULT` asks for, if it is set.
    pub fn from_env() -> Result<Option<Fault>, Error> {
        match std::env::var(VAR) {
            Ok(text) if !text.trim().is_empty() => Fault::parse(&text).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses `REP:KIND:ROW:COL`.
    pub fn parse(text: &str) -> Result<Fault, Error> {
        let bad = || {
            Error::InvalidArgument(format!(
                "{VAR} must be REP:zero|double|tile:ROW:COL (a test-only fault), got '{text}'"
            ))
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        let [rep, kind, row, col] = parts.as_slice() else {
            return Err(bad());
        };
        let kind = match *kind {
            "zero" => Kind::Zero,
            "double" => Kind::Double,
            "tile" => Kind::Tile,
            _ => return Err(bad()),
        };
        Ok(Fault {
            repetition: rep.parse().ok().filter(|&r| r >= 1).ok_or_else(bad)?,
            kind,
            row: row.parse().map_err(|_| bad())?,
            col: col.parse().map_err(|_| bad())?,
        })
    }

    /// In words, for the record.
    pub fn describe(&self) -> String {
        let (r, c) = (self.row, self.col);
        let what = match self.kind {
            Kind::Zero => format!("C[{r}, {c}] zeroed"),
            Kind::Double => format!("C[{r}, {c}] doubled"),
            Kind::Tile => format!("the {TILE}×{TILE} tile of C from [{r}, {c}] zeroed"),
        };
        format!(
            "repetition {}: {what} ({VAR}, a test-only fault)",
            self.repetition
        )
    }

    /// Applies the fault to a row-major n×n C, if `repetition` is its own.
    pub fn apply<T: Copy + std::ops::Add<Output = T> + Default>(
        &self,
        repetition: u32,
        c: &mut [T],
        n: usize,
    ) {
        if repetition != self.repetition || self.row >= n || self.col >= n {
            return;
        }
        let (rows, cols) = match self.kind {
            Kind::Zero | Kind::Double => (1, 1),
            Kind::Tile => (TILE.min(n - self.row), TILE.min(n - self.col)),
        };
        for r in self.row..self.row + rows {
            for j in self.col..self.col + cols {
                if let Some(v) = c.get_mut(r * n + j) {
                    *v = match self.kind {
                        Kind::Double => *v + *v,
                        Kind::Zero | Kind::Tile => T::default(),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_apply_to_their_repetition_only_and_bad_text_is_refused() {
        let f = Fault::parse("3:tile:2:1").unwrap();
        assert_eq!((f.repetition, f.kind, f.row, f.col), (3, Kind::Tile, 2, 1));
        let mut c = vec![1.0f32; 16];
        f.apply(2, &mut c, 4);
        assert!(c.iter().all(|&v| v == 1.0), "not its repetition");
        f.apply(3, &mut c, 4);
        assert_eq!(
            c.iter().filter(|&&v| v == 0.0).count(),
            6,
            "rows 2-3 × columns 1-3"
        );
        let mut c = vec![1.5f64; 4];
        Fault::parse("1:double:1:0").unwrap().apply(1, &mut c, 2);
        assert_eq!(c, vec![1.5, 1.5, 3.0, 1.5]);
        for bad in [
            "",
            "0:zero:1:1",
            "1:melt:1:1",
            "1:zero:1",
            "a:zero:1:1",
            "1:zero:-1:2",
        ] {
            assert_eq!(Fault::parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert_eq!(
            f.describe(),
            "repetition 3: the 64×64 tile of C from [2, 1] zeroed (MATBENCH_INJECT_FAULT, a test-only fault)"
        );
    }
}
