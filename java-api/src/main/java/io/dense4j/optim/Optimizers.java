package io.dense4j.optim;

/** Factories with PyTorch's defaults (torch.optim), e.g. {@code Optimizers.adam(1e-3)}. */
public final class Optimizers {
    private Optimizers() {}

    /** Plain SGD. */
    public static Optimizer sgd(double lr) {
        return sgd(lr, 0, false);
    }

    /** SGD with momentum (dampening 0), optionally Nesterov. */
    public static Optimizer sgd(double lr, double momentum, boolean nesterov) {
        return new Optimizer(Optimizer.Kind.SGD, LearningRateSchedule.constant(lr),
                new float[] {(float) momentum, 0f, 0f, nesterov ? 1f : 0f, 0f}, 0f, 0f);
    }

    /** Adam with betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public static Optimizer adam(double lr) {
        return new Optimizer(Optimizer.Kind.ADAM, LearningRateSchedule.constant(lr),
                new float[] {0.9f, 0.999f, 1e-8f, 0f, 0f}, 0f, 0f);
    }

    /** AdamW with betas (0.9, 0.999), eps 1e-8 and decoupled weight decay (PyTorch's default 0.01). */
    public static Optimizer adamw(double lr, double weightDecay) {
        return new Optimizer(Optimizer.Kind.ADAMW, LearningRateSchedule.constant(lr),
                new float[] {0.9f, 0.999f, 1e-8f, (float) weightDecay, 0f}, 0f, 0f);
    }

    public static Optimizer adamw(double lr) {
        return adamw(lr, 0.01);
    }

    /** RMSprop with alpha 0.99, eps 1e-8, no momentum, not centered. */
    public static Optimizer rmsprop(double lr) {
        return new Optimizer(Optimizer.Kind.RMSPROP, LearningRateSchedule.constant(lr),
                new float[] {0.99f, 1e-8f, 0f, 0f, 0f}, 0f, 0f);
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
