//! `vpp optimize`: reads a `problem.json` (docs/optimiser.md), plans it in monolithic or
//! hierarchical mode (or both, to measure the gap), prints the objective, the peak import and
//! the wall time, and writes the plan with every battery's schedule. The adapter around the
//! pure planner in `vpp-dispatch`: it reads the file and times the solve.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vpp_optimiser::lp::{Clarabel, LpSolver, Structured};
use vpp_optimiser::problem::DispatchProblem;
use vpp_optimiser::{self as plan, Plan};

/// How to solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Virtual batteries per feeder, a small LP, top-down disaggregation.
    Hierarchical,
    /// One LP with every battery.
    Monolithic,
    /// Both, and the gap between them.
    Both,
}

/// Which LP solver the hierarchical mode uses (the monolithic mode always uses Clarabel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverChoice {
    /// The structured interior point for the virtual batteries' network LP.
    Structured,
    /// Clarabel through good_lp.
    Clarabel,
}

impl SolverChoice {
    fn solver(self) -> &'static dyn LpSolver {
        match self {
            Self::Structured => &Structured,
            Self::Clarabel => &Clarabel,
        }
    }
}

/// Arguments of `vpp optimize`.
#[derive(Debug, Clone, Args)]
pub struct OptimizeArgs {
    /// The problem (JSON, docs/optimiser.md).
    #[arg(long)]
    pub problem: PathBuf,
    /// Where to write the plan (JSON).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Solve mode.
    #[arg(long, value_enum, default_value = "hierarchical")]
    pub mode: Mode,
    /// LP solver of the hierarchical mode.
    #[arg(long, value_enum, default_value = "structured")]
    pub solver: SolverChoice,
    /// Virtual batteries the hierarchical mode may use in all (finer classes: closer to the
    /// optimum, slower).
    #[arg(long, default_value_t = plan::hierarchy::UNIT_BUDGET)]
    pub unit_budget: usize,
}

/// Reads and validates a problem file; a malformed file names the field.
pub fn read_problem(path: &std::path::Path) -> anyhow::Result<DispatchProblem> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let problem: DispatchProblem = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid problem", path.display()))?;
    problem
        .validate()
        .with_context(|| format!("{} is not a valid problem", path.display()))?;
    Ok(problem)
}

/// Plans `problem` in `mode` (not `Both`) with `budget` virtual batteries at most, timing the
/// solve.
pub fn solve(
    problem: &DispatchProblem,
    mode: Mode,
    solver: SolverChoice,
    budget: usize,
) -> anyhow::Result<Plan> {
    let t0 = Instant::now();
    let mut plan = match mode {
        Mode::Monolithic => plan::monolithic(problem, &Clarabel)?,
        Mode::Hierarchical | Mode::Both => {
            plan::hierarchy::solve_with_budget(problem, solver.solver(), budget.max(1))?
        }
    };
    plan.solve_seconds = t0.elapsed().as_secs_f64();
    Ok(plan)
}

fn summary(plan: &Plan) -> String {
    format!(
        "{:<12} objective {:.4} EUR  peak import {:.3} kW  penalties {:.4} EUR  time {:.3} s",
        plan.mode, plan.objective_eur, plan.peak_import_kw, plan.penalty_eur, plan.solve_seconds
    )
}

/// Runs `vpp optimize`.
pub fn optimize(args: &OptimizeArgs) -> anyhow::Result<()> {
    let problem = read_problem(&args.problem)?;
    let plans: Vec<Plan> = match args.mode {
        Mode::Both => vec![
            solve(&problem, Mode::Monolithic, args.solver, args.unit_budget)?,
            solve(&problem, Mode::Hierarchical, args.solver, args.unit_budget)?,
        ],
        m => vec![solve(&problem, m, args.solver, args.unit_budget)?],
    };
    for p in &plans {
        println!("{}", summary(p));
    }
    if let [mono, hier] = plans.as_slice() {
        let gap = (hier.objective_eur - mono.objective_eur) / mono.objective_eur.abs().max(1e-9);
        println!("gap {:.4} % (hierarchical over monolithic)", gap * 100.0);
    }
    if let (Some(out), Some(plan)) = (&args.out, plans.last()) {
        let json = serde_json::to_string_pretty(plan)?;
        std::fs::write(out, json).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// Arguments of `vpp bench dispatch`.
#[derive(Debug, Clone, Args)]
pub struct BenchDispatchArgs {
    /// Fleet sizes (batteries), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub batteries: Vec<usize>,
    /// Seed of the generated fleets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also solve monolithically (for the gap) up to this many batteries.
    #[arg(long, default_value_t = 1000)]
    pub monolithic_up_to: usize,
    /// Batteries per feeder (0: no feeders, every site on the root).
    #[arg(long, default_value_t = plan::generate::PER_FEEDER)]
    pub per_feeder: usize,
    /// Write the generated problems here as `problem-<N>.json`.
    #[arg(long)]
    pub write_problems: Option<PathBuf>,
    /// LP solver of the hierarchical mode.
    #[arg(long, value_enum, default_value = "structured")]
    pub solver: SolverChoice,
    /// Virtual batteries the hierarchical mode may use in all.
    #[arg(long, default_value_t = plan::hierarchy::UNIT_BUDGET)]
    pub unit_budget: usize,
}

/// Peak resident memory of this process so far, MiB (Linux; `None` elsewhere).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs `vpp bench dispatch`: generated heterogeneous fleets × 96 steps, hierarchical (and
/// monolithic where asked), with objective, gap, feasibility, wall time and peak memory.
pub fn bench_dispatch(args: &BenchDispatchArgs) -> anyhow::Result<()> {
    let mut sizes = args.batteries.clone();
    sizes.sort_unstable();
    for n in sizes {
        let t0 = Instant::now();
        let problem = plan::generate::fleet_with(n, args.seed, args.per_feeder);
        let generated = t0.elapsed().as_secs_f64();
        if let Some(dir) = &args.write_problems {
            std::fs::create_dir_all(dir)?;
            let path = dir.join(format!("problem-{n}.json"));
            std::fs::write(&path, serde_json::to_string(&problem)?)?;
        }
        let hier = solve(&problem, Mode::Hierarchical, args.solver, args.unit_budget)?;
        let violations = plan::verify(&problem, &hier.batteries).len();
        let mut line = format!(
            "batteries {n:>7}  sites {:>6}  feeders {:>4}  hierarchical {:.3} s  objective {:.2} EUR  peak {:.1} kW  penalties {:.2} EUR  violations {violations}  generate {generated:.3} s",
            problem.sites.len(),
            problem.feeders.len(),
            hier.solve_seconds,
            hier.objective_eur,
            hier.peak_import_kw,
            hier.penalty_eur,
        );
        if n <= args.monolithic_up_to {
            let mono = solve(&problem, Mode::Monolithic, args.solver, args.unit_budget)?;
            let gap = (hier.objective_eur - mono.objective_eur) / mono.objective_eur.abs();
            line += &format!(
                "  monolithic {:.3} s  objective {:.2} EUR  gap {:.3} %",
                mono.solve_seconds,
                mono.objective_eur,
                gap * 100.0
            );
        }
        if let Some(mib) = peak_rss_mib() {
            line += &format!("  peak RSS {mib:.0} MiB");
        }
        println!("{line}");
    }
    Ok(())
}
