package io.cloudbridge.boot.config;

import java.util.Locale;

/** Where a configuration value came from, in rising priority. */
public enum Origin {
    DEFAULT, FILE, ENV, CLI;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
