// The Java producer's partition for each key read from stdin (one UTF-8 key per line),
// for `java -cp '<kafka lib>/*' JavaPlacement.java <partitions>`: used by
// test_kafka_connectors.py to compare our sink's placement with the Java client's.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;

public class JavaPlacement {
  public static void main(String[] args) throws Exception {
    int partitions = Integer.parseInt(args[0]);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    StringBuilder out = new StringBuilder();
    for (String key; (key = in.readLine()) != null; ) {
      out.append(BuiltInPartitioner.partitionForKey(key.getBytes(StandardCharsets.UTF_8), partitions)).append('\n');
    }
    System.out.print(out);
  }
}
