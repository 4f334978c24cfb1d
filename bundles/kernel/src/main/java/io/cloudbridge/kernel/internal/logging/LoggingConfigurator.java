package io.cloudbridge.kernel.internal.logging;

import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import io.cloudbridge.boot.log.LogSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Applies the {@code logging} section to the process-wide JSON log, at start and on every edit. */
@Component(configurationPid = "cloudbridge.logging", immediate = true, service = LoggingConfigurator.class)
@Designate(ocd = LoggingConfig.class)
public final class LoggingConfigurator {
    private static final Logger LOG = LoggerFactory.getLogger(LoggingConfigurator.class);
    private Path home;
    private volatile LogSettings current;

    @Activate
    void activate(BundleContext ctx, LoggingConfig config) {
        String h = ctx.getProperty(RuntimeProperties.HOME);
        home = h == null ? Path.of("").toAbsolutePath() : Path.of(h);
        modified(config);
    }

    @Modified
    void modified(LoggingConfig config) {
        Map<String, LogLevel> loggers = new HashMap<>();
        for (String spec : config.loggers()) {
            int eq = spec.indexOf('=');
            LogLevel level = eq < 0 ? null : LogLevel.parse(spec.substring(eq + 1));
            if (level == null) {
                // The bridge checks types, not this inner syntax: say so and skip the entry.
                LOG.warn("logging.loggers entry '{}' is not 'name=level'; ignored", spec);
                continue;
            }
            loggers.put(spec.substring(0, eq).trim(), level);
        }
        Path file = config.file().isBlank() ? null : home.resolve(config.file());
        LogSettings settings = new LogSettings(LogLevel.parse(config.level()), loggers, config.stdout(), file,
                config.maxFileMegabytes() * 1024L * 1024L, config.maxFiles());
        try {
            LogControl.apply(settings);
            current = settings;
            LOG.info("log level {}{}", settings.level(), file == null ? "" : ", file " + file);
        } catch (IOException e) {
            LOG.error("cannot open the log file {}; the previous log settings stay", file, e);
        }
    }

    /** The settings this component applied last (for tests and status). */
    public LogSettings current() {
        return current;
    }
}
