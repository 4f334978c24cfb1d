package io.cloudbridge.policy.internal;

import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.api.policy.PolicyException;
import org.osgi.service.component.annotations.Component;

/** The policy language: YAML files as {@link PolicyParser} describes them. */
@Component(service = PolicyCompiler.class)
public final class YamlPolicyCompiler implements PolicyCompiler {

    @Override
    public Policy parse(String text) throws PolicyException {
        return new PolicyParser(text).parse();
    }
}
