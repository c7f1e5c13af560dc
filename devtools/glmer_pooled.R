# lme4::glmer on the same table and formula as a pooled Bayesian fit (called by devtools/bench.py).
# Usage: Rscript devtools/glmer_pooled.R DATA.csv OUT.csv "FORMULA"
# DATA.csv holds the outcome (0/1) and each predictor and grouping column as integer category
# codes, code 0 the reference level, so glmer's treatment contrasts are the Python design's
# columns in the same order. The rows are first collapsed into one binomial row per covariate
# pattern and group (successes out of trials), as the Bayesian fit does: the Laplace likelihood is
# the same (up to the binomial coefficients, a constant), and glmer on 1.5 million Bernoulli rows
# takes hours on 2 cores (80,000 rows took 6 minutes). Writes the fixed effects (estimate, SE)
# and the random-intercept SDs; prints the seconds glmer itself took (reading and collapsing the
# file excluded) and the number of rows it saw.
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages({
  library(lme4)
  library(data.table)
})
data <- fread(args[1])
outcome <- trimws(sub("~.*$", "", args[3]))
predictors <- setdiff(names(data), outcome)
setnames(data, outcome, "y")
data <- data[, .(successes = sum(y), trials = .N), by = predictors]
for (column in predictors) {
  data[[column]] <- factor(data[[column]], levels = sort(unique(data[[column]])))
}
right_side <- sub("^[^~]*~", "", args[3])
formula <- as.formula(paste("cbind(successes, trials - successes) ~", right_side))
# calc.derivs = FALSE: skip the finite-difference gradient and Hessian check after the fit,
# which costs as much as the fit itself at this size and changes no estimate.
seconds <- system.time(
  fit <- glmer(formula, data = data, family = binomial,
               control = glmerControl(calc.derivs = FALSE))
)[["elapsed"]]
estimates <- fixef(fit)
variance <- as.data.frame(VarCorr(fit))
table <- rbind(
  data.frame(term = names(estimates), estimate = unname(estimates),
             se = unname(sqrt(diag(as.matrix(vcov(fit)))))),
  data.frame(term = paste0(variance$grp, "_sd"), estimate = variance$sdcor, se = NA)
)
write.csv(table, args[2], row.names = FALSE)
cat(sprintf("glmer_seconds %.2f\n", seconds))
cat(sprintf("glmer_rows %d\n", nrow(data)))
