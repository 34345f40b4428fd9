//! PIM import (contract section 3).

pub mod formats;
