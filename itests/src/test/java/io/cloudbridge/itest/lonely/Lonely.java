package io.cloudbridge.itest.lonely;

import java.util.concurrent.Executor;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** A component whose mandatory reference nothing satisfies, for the status test. */
@Component(service = Lonely.class)
public class Lonely {
    @Reference(target = "(purpose=nobody-provides-this)")
    Executor missingExecutor;
}
