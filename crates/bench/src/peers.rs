//! stub
use crate::Ctx;
use anyhow::Result;
pub fn run(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
