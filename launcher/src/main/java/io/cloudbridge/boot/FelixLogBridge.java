package io.cloudbridge.boot;

import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import java.util.Map;
import org.apache.felix.framework.Logger;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;

/** Sends the framework's own messages (resolution failures and the like) into the JSON log. */
final class FelixLogBridge extends Logger {

    @Override
    @SuppressWarnings("rawtypes")
    protected void doLog(Bundle bundle, ServiceReference sr, int level, String msg, Throwable throwable) {
        LogLevel mapped = switch (level) {
            case LOG_ERROR -> LogLevel.ERROR;
            case LOG_WARNING -> LogLevel.WARN;
            case LOG_INFO -> LogLevel.INFO;
            default -> LogLevel.DEBUG;
        };
        Map<String, String> context = bundle == null ? Map.of()
                : Map.of("bundle", String.valueOf(bundle.getSymbolicName()));
        LogControl.log(mapped, "org.apache.felix.framework", msg, context, throwable);
    }
}
