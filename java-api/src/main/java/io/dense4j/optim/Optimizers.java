package io.dense4j.optim;

/** Factories with PyTorch's defaults (torch.optim), e.g. {@code Optimizers.adam(1e-3)}. */
public final class Optimizers {
    private Optimizers() {}

    /** Plain SGD. */
    public static Sgd sgd(double lr) {
        return sgd(lr, 0, false);
    }

    /** SGD with momentum (dampening 0), optionally Nesterov. */
    public static Sgd sgd(double lr, double momentum, boolean nesterov) {
        return new Sgd(LearningRateSchedule.constant(lr), momentum, 0, 0, nesterov, 0, 0);
    }

    /** Adam with betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public static Adam adam(double lr) {
        return new Adam(LearningRateSchedule.constant(lr), 0.9, 0.999, 1e-8, 0, false, 0, 0);
    }

    /** AdamW with betas (0.9, 0.999), eps 1e-8 and decoupled weight decay. */
    public static AdamW adamw(double lr, double weightDecay) {
        return new AdamW(LearningRateSchedule.constant(lr), 0.9, 0.999, 1e-8, weightDecay, false, 0, 0);
    }

    /** AdamW with PyTorch's default weight decay, 0.01. */
    public static AdamW adamw(double lr) {
        return adamw(lr, 0.01);
    }

    /** RMSprop with alpha (rho) 0.99, eps 1e-8, no momentum, not centered. */
    public static RmsProp rmsprop(double lr) {
        return new RmsProp(LearningRateSchedule.constant(lr), 0.99, 1e-8, 0, 0, false, 0, 0);
    }

    /** By name as the command line takes it: sgd, adam, adamw, rmsprop. */
    public static Optimizer byName(String name, double lr) {
        return switch (name.trim().toLowerCase()) {
            case "sgd" -> sgd(lr);
            case "adam" -> adam(lr);
            case "adamw" -> adamw(lr);
            case "rmsprop" -> rmsprop(lr);
            default -> throw new IllegalArgumentException("unknown optimizer '" + name
                    + "': expected sgd, adam, adamw or rmsprop");
        };
    }
}
