package io.cloudbridge.policy.internal;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.cloudbridge.api.policy.Member;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.api.policy.PolicyException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Fuzz target for a policy file as an administrator hands it to the relay: any bytes. It is taken
 * or refused with a {@link PolicyException} naming a line within the file; a policy taken runs its
 * tests and compiles against a tenant without throwing anything else.
 */
class PolicyFuzzTest {
    private static final PolicyCompiler COMPILER = new YamlPolicyCompiler();
    private static final List<Member> MEMBERS;

    static {
        try {
            MEMBERS = PolicyLanguageTest.members();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @FuzzTest
    void policyFile(byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        PolicyCompiler.Policy p;
        try {
            p = COMPILER.parse(text);
        } catch (PolicyException refused) {
            assertRefusal(refused, text);
            return;
        }
        try {
            p.test(MEMBERS);
        } catch (PolicyException failed) {
            assertRefusal(failed, text);
        }
        PolicyCompiler.CompiledPolicy c = p.compile(1, MEMBERS);
        for (Member m : MEMBERS) {
            NodeFilter f = c.filterFor(m.id());
            assertNotNull(f);
            c.visible(m.id(), MEMBERS.get(0).id());
        }
    }

    private static void assertRefusal(PolicyException e, String text) {
        assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
        // YAML breaks lines at CR, LF and CR LF, as editors do: so does the line a refusal names.
        assertTrue(e.line() >= 0 && e.line() <= text.split("\r\n|\r|\n", -1).length + 1, "line " + e.line() + " is in the file");
    }
}
